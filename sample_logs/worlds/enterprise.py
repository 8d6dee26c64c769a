"""The ``enterprise`` style: an insurer with nine accounts in an AWS Organization.

An organization trail (management account) delivers every account's events to the
log-archive account (``AWSLogs/<org id>/<acct>/...``), with S3 data events only for the
finance and HR buckets; access logs go to per-region buckets with date-partitioned prefixes.
Legacy IAM users with access keys sync files every night (rclone, ``aws s3 sync``) and browse
a shared drive with S3 Browser; Splunk reads every CloudTrail file as it lands; the SSM agent
on every instance reports in every five minutes; AWS Config, Access Analyzer and Macie read
bucket settings and samples; the security team runs Prowler every Monday; a claims web app on
EC2 behind NAT gateways calls S3 over the public endpoint; Jenkins (EC2, Elastic IP) deploys;
people sign in through Okta (SAML) in London and Chicago; an audit firm reads evidence
cross-account.
"""

from __future__ import annotations

from aws import ANONYMOUS, DAY, HOUR, Agent, Bucket, Call, Rng, iam_user, invoked_by
from behaviour import Habit, Human, Job, Workload, daily, fixed
from clients import (
    ATHENA,
    CONSOLE,
    CURL,
    CYBERDUCK,
    JENKINS,
    KALI_CLI,
    POWERSHELL,
    PROWLER,
    PYTHON_REQUESTS,
    RCLONE,
    S3_BROWSER,
    S3_CONSOLE,
    SCOUTSUITE,
    SPLUNK,
    SSM_AGENT,
    WGET,
    awscli,
    boto3,
)
from hand import Hand, allow, expire_rule, lifecycle, pab
from intrusions import (
    account_pab_off,
    anonymous_reads,
    blind,
    denied_storm,
    deny_log_delivery,
    discovery,
    logging_off,
    make_public,
    mass_delete,
    narrow_selectors,
    put_policy,
    ransom_note,
    recovery_off,
    reencrypt,
    replicate_to,
    start_trail,
    stop_trail,
    vpce_denied,
)
from net import ip, ips, private
from services import (
    Visitors,
    analyzer_reads,
    config_reads,
    posture_scan,
    ssm_agent,
    triage,
)
from world import (
    LOCAL_DIURNAL,
    Prefix,
    Sessions,
    World,
    account_id,
    add_bucket,
    hours,
    instance_id,
    pool,
    s3,
    shift,
)

NAMES = ("meridian-mutual", "corvane", "brightwater-ins", "hollisgrant", "northmere")
DEFAULT_START = "2025-11-17"  # a Monday after both daylight-saving changes
LONDON, CHICAGO = 0.0, -6.0
E1, EW2 = "us-east-1", "eu-west-2"
WEEKDAYS = (1, 1, 1, 1, 1, 0.05, 0.03)


def build(seed: int, start: int, days: int, scale: float) -> World:
    co = NAMES[seed % len(NAMES)]
    w = World("enterprise", seed, start, days, scale, co, {"london": LONDON, "chicago": CHICAGO})
    r = w.rng("build")
    names = (
        "management",
        "log-archive",
        "security-tooling",
        "network",
        "finance-prod",
        "hr-prod",
        "claims-prod",
        "dev",
        "sandbox",
    )
    A = {n: account_id("enterprise", seed, n) for n in names}
    auditor, evil = account_id("enterprise", seed, "auditor"), account_id("enterprise", seed, "x")
    w.accounts = {v: k for k, v in A.items()}
    w.partners = {auditor: "external audit firm (sanctioned)"}
    w.foreign = {evil: "attacker"}
    w.org_id = "o-" + r.alnum(10, "abcdefghijklmnopqrstuvwxyz0123456789")
    w.trail_name = "org-cloudtrail"
    w.trail_home = A["management"]
    w.access_log_layout = "partitioned"
    fin, hr, claims, dev, sec, logs = (
        A[n]
        for n in (
            "finance-prod",
            "hr-prod",
            "claims-prod",
            "dev",
            "security-tooling",
            "log-archive",
        )
    )
    w.vpce = {
        "finance": (f"vpce-0{r.hexl(16)}", fin),
        "hr": (f"vpce-0{r.hexl(16)}", hr),
        "dev": (f"vpce-0{r.hexl(16)}", dev),
        "evil": (f"vpce-0{r.hexl(16)}", evil),
    }

    B = add_bucket
    trail = B(w, f"{co}-org-cloudtrail-{logs[-4:]}", logs, E1, access_logs=True)
    al_e1 = B(w, f"{co}-s3-access-logs-{E1}", logs, E1)
    B(w, f"{co}-s3-access-logs-{EW2}", logs, EW2)
    B(w, f"{co}-config-history", logs, E1)
    reports = B(
        w,
        f"{co}-finance-reports",
        fin,
        E1,
        data_events="all",
        access_logs=True,
        kms=True,
        versioned=True,
    )
    sftp = B(w, f"{co}-finance-sftp-drop", fin, E1, access_logs=True)
    shared = B(w, f"{co}-shared-drive", fin, E1, access_logs=True, versioned=True)
    hrdocs = B(w, f"{co}-hr-documents", hr, EW2, data_events="all", access_logs=True, kms=True)
    payroll = B(w, f"{co}-payroll-exports", hr, EW2, data_events="all", access_logs=True)
    uploads = B(w, f"{co}-claims-uploads", claims, E1, data_events="write", access_logs=True)
    static = B(w, f"{co}-claims-portal-static", claims, E1, access_logs=True, website=True)
    backups = B(w, f"{co}-claims-db-backups", claims, E1, access_logs=True)
    evidence = B(w, f"{co}-audit-evidence", sec, E1, data_events="all", access_logs=True)
    findings = B(w, f"{co}-security-findings", sec, E1, access_logs=True)
    artifacts = B(w, f"{co}-dev-artifacts", dev, E1, access_logs=True)
    B(w, f"{co}-dev-scratch", dev, E1)
    w.trail_bucket = trail
    w.info["log_file_validation"] = True
    loot = Bucket(f"dr-replica-{r.hexl(8)}", evil, E1)
    ours = list(w.buckets.values())

    P = lambda b, tpl, size, n: pool(r, Prefix(b, tpl, size), start, n)  # noqa: E731
    rep = P(reports, "monthly/{date}/ledger-{n}.xlsx", 2_500_000, 400)
    rep_q = P(reports, "quarterly/FY26/close-pack-{n}.pdf", 6_000_000, 80)
    sftp_in = P(sftp, "inbound/{date}/BANK_STMT_{n}_{h8}.csv", 300_000, 600)
    drive = P(shared, "finance/{n}/{name}", 900_000, 700)
    home = Prefix(
        shared,
        "home/jdoe/{name}",
        50_000,
        [
            "home/jdoe/.aws/credentials",
            "home/jdoe/.ssh/id_rsa",
            "home/jdoe/projects/.env",
            "home/jdoe/certs/portal-prod.pem",
            "home/jdoe/notes.txt",
        ],
    )
    hrd = P(hrdocs, "employees/{u}/{name}", 400_000, 500)
    pay = P(payroll, "runs/{date}/payroll-{n}.csv", 2_000_000, 60)
    upl = P(uploads, "claims/{u}/{uuid}/{name}", 1_500_000, 600)
    site = Prefix(
        static,
        "",
        30_000,
        [
            "index.html",
            "login.html",
            "claims/new.html",
            "static/js/main.4c1d2e.js",
            "static/css/main.9b3a77.css",
            "static/media/logo.svg",
        ],
    )
    dumps = P(backups, "mssql/{date}/claims_full_{h8}.bak", 800_000_000, 40)
    ev = P(evidence, "soc2/2025/{n}/{name}", 700_000, 200)
    fnd = P(findings, "exports/{date}/findings-{h8}.json.gz", 90_000, 100)
    arts = P(artifacts, "builds/claims-portal/{n}/portal-{h8}.zip", 30_000_000, 150)

    dc_ips = ips(w.rng("dc"), "london", 2)
    office_lon = ips(w.rng("office-lon"), "london", 3)
    office_chi = ips(w.rng("office-chi"), "chicago", 3)
    H = Habit

    # ---- legacy IAM users with access keys
    filesync = iam_user(fin, "svc-filesync")
    sync_profile = shift(hours({range(22, 24): 1.0, range(0, 2): 1.0}, 0.02), LONDON)
    rclone = Workload(
        "svc-filesync (rclone)",
        fixed(filesync),
        [("", dc_ips[0])],
        RCLONE,
        [
            H(30, "List", sftp_in),
            H(35, "HeadObject", sftp_in),
            H(30, "PutObject", sftp_in),
            H(5, "GetObject", sftp_in),
        ],
        2400,
        sync_profile,
    )
    jdoe = iam_user(fin, "jdoe")
    s3b = Human(
        "jdoe (S3 Browser)",
        fixed(jdoe),
        "jdoe",
        CHICAGO,
        office_chi[:1],
        [
            H(6, "List", drive),
            H(6, "GetObject", drive),
            H(3, "PutObject", drive),
            H(1, "DeleteObject", drive),
            H(1, "GetObject", home),
            H(0.5, "List", home),
        ],
        S3_BROWSER,
        sessions_per_day=2.5,
        actions=(10, 50),
    )
    nas = iam_user(claims, "backup-nas")
    nas_sync = awscli("s3.sync", os_="linux#4.4.302+", arch="x86_64")

    def nas_run(w: World, rng: Rng, t: int) -> list[Call]:
        h = Hand(w, rng, nas, (dc_ips[1], None), nas_sync, t)
        for _ in range(int(40 * w.scale) + 2):
            h.list(dumps)
        for _ in range(rng.randrange(2, 4)):
            key, size = dumps.new_key(rng, h.t), dumps.size_of(rng)
            h.s3("CreateMultipartUpload", backups, key=key)
            for i in range(int(120 * w.scale) + 4):
                h.s3(
                    "UploadPart",
                    backups,
                    key=key,
                    size=8 << 20,
                    params={"partNumber": str(i + 1), "uploadId": "Up" + rng.alnum(30)},
                )
                h.wait(0, 3)
            h.s3("CompleteMultipartUpload", backups, key=key, size=size)
            dumps.add(key)
        return h.calls

    nas_job = Job("backup-nas (aws s3 sync)", daily("02:10", LONDON, jitter=900), nas_run)

    # ---- instances: claims app behind NAT, finance batch via endpoint, Jenkins with an EIP
    nat = ips(w.rng("nat"), "aws:us-east-1", 2)
    app_role = Sessions(claims, "claims-app-ec2", 6 * HOUR, ec2=True)
    app_hosts = [(instance_id(r), nat[i % 2]) for i in range(6)]
    app = Workload(
        "claims-app-ec2",
        app_role.get,
        app_hosts,
        boto3(),
        [
            H(40, "GetObject", upl),
            H(25, "PutObject", upl),
            H(15, "HeadObject", upl),
            H(3, "List", upl),
            H(1, "DeleteObject", upl),
        ],
        2200,
        shift(LOCAL_DIURNAL, CHICAGO),
        weekdays=(1, 1, 1, 1, 1, 0.4, 0.3),
    )
    batch_role = Sessions(fin, "finance-batch-ec2", 6 * HOUR, ec2=True)
    batch_hosts = [(instance_id(r), private(r, "10.40.2")) for _ in range(2)]
    fbatch = Workload(
        "finance-batch-ec2",
        batch_role.get,
        batch_hosts,
        boto3(),
        [
            H(50, "GetObject", rep),
            H(20, "PutObject", rep),
            H(10, "List", rep),
            H(20, "GetObject", sftp_in),
        ],
        700,
        hours({range(3, 6): 1.0}, 0.03),
        vpce=w.vpce["finance"],
        weekdays=WEEKDAYS,
    )
    jenkins_role = Sessions(dev, "jenkins-deployer", 6 * HOUR, ec2=True)
    jenkins_iid = instance_id(w.rng("jenkins"), mixed=True)
    jenkins_ip = ip(r, "aws:us-east-1")
    jenkins = Workload(
        "jenkins-deployer",
        jenkins_role.get,
        [(jenkins_iid, jenkins_ip)],
        JENKINS,
        [H(50, "PutObject", arts), H(20, "GetObject", arts), H(10, "List", arts)],
        160,
        shift(hours({range(8, 19): 1.0}, 0.05), LONDON),
        weekdays=WEEKDAYS,
        upgrades=[
            (
                w.when(0.4, "12:00"),
                Agent(JENKINS.ua.replace("2.17.20", "2.22.4"), cipher=JENKINS.cipher),
            )
        ],
    )

    def deploy_site(w: World, rng: Rng, t: int) -> list[Call]:
        h = Hand(w, rng, lambda t: jenkins_role.get(jenkins_iid, t), (jenkins_ip, None), JENKINS, t)
        h.s3("ListObjects", static, query={"list-type": "2", "prefix": "static/"})
        for k in (
            f"static/js/main.{rng.hexl(6)}.js",
            f"static/css/main.{rng.hexl(6)}.css",
            "index.html",
            "login.html",
            "claims/new.html",
        ):
            h.s3("PutObject", static, key=k, size=rng.randrange(2000, 300000))
        return h.calls

    deploys = Job(
        "jenkins site deploy", daily("15:30", LONDON, days=(1, 3), jitter=3600), deploy_site
    )

    # ---- SSM agent on every instance
    ssm_hosts = {
        claims: (app_role, app_hosts, None),
        fin: (batch_role, batch_hosts, w.vpce["finance"]),
        dev: (jenkins_role, [(jenkins_iid, jenkins_ip)], None),
    }
    ssm_actors = [
        ssm_agent(f"ssm-agent {w.accounts[a]}", role.get, hosts, E1, vpce, SSM_AGENT)
        for a, (role, hosts, vpce) in ssm_hosts.items()
    ]
    dc_role = Sessions(A["network"], "dc-hybrid-ssm", 6 * HOUR)
    dc_hosts = [(f"mi-0{r.hexl(16)}", dc_ips[0]) for _ in range(4)]
    ssm_actors.append(
        ssm_agent(
            "ssm-agent hybrid",
            dc_role.get,
            dc_hosts,
            E1,
            None,
            SSM_AGENT,
            "Microsoft Windows Server 2019 Datacenter",
        )
    )

    # ---- people (Okta SAML roles)
    def saml(acct: str, role: str) -> Sessions:
        return Sessions(acct, role, 8 * HOUR)

    analyst = saml(fin, "Okta-FinanceAnalyst")
    hrp = saml(hr, "Okta-HRPartner")
    ops = {a: saml(a, "Okta-CloudOps") for a in (claims, fin, hr, logs, A["management"], dev)}
    secops = saml(sec, "Okta-SecurityEngineer")
    people: list[Human] = []
    for name, tz, offices in (
        ("amelia.clarke", LONDON, office_lon),
        ("oliver.shah", LONDON, office_lon),
        ("megan.kowalski", CHICAGO, office_chi),
        ("tyrone.jackson", CHICAGO, office_chi),
    ):
        people.append(
            Human(
                f"{name} (finance)",
                analyst.get,
                f"{name}@{co}.com",
                tz,
                offices,
                [
                    H(5, "Browse", rep, S3_CONSOLE),
                    H(5, "GetObject", rep, S3_CONSOLE),
                    H(2, "PutObject", rep, S3_CONSOLE),
                    H(2, "GetObject", rep_q, S3_CONSOLE),
                    H(0.2, "GetObject", hrd, S3_CONSOLE, error="AccessDenied"),
                    H(1, "api:quicksight:DescribeDashboard", agent=CONSOLE),
                ],
                S3_CONSOLE,
            )
        )
    for name in ("grace.obi", "harry.lewis"):
        people.append(
            Human(
                f"{name} (hr)",
                hrp.get,
                f"{name}@{co}.com",
                LONDON,
                office_lon,
                [
                    H(5, "Browse", hrd, S3_CONSOLE),
                    H(4, "GetObject", hrd, S3_CONSOLE),
                    H(2, "PutObject", hrd, S3_CONSOLE),
                    H(1, "GetObject", pay, S3_CONSOLE),
                ],
                S3_CONSOLE,
                region=EW2,
            )
        )
    ops_people = (
        ("sam.turner", LONDON, office_lon),
        ("nina.petrova", LONDON, office_lon),
        ("luis.romero", CHICAGO, office_chi),
    )
    for i, (name, tz, offices) in enumerate(ops_people):
        for a in list(ops)[i::3]:
            people.append(
                Human(
                    f"{name} (ops {w.accounts[a]})",
                    ops[a].get,
                    f"{name}@{co}.com",
                    tz,
                    offices,
                    [
                        H(4, "api:ec2:DescribeInstances", agent=CONSOLE),
                        H(3, "api:ssm:DescribeInstanceInformation", agent=CONSOLE),
                        H(2, "api:cloudwatch:DescribeAlarms", agent=CONSOLE),
                        H(2, "api:iam:ListRoles", agent=CONSOLE),
                        H(
                            2,
                            "api:s3:ListBuckets",
                            agent=S3_CONSOLE,
                            params={"Host": "s3.amazonaws.com"},
                        ),
                        H(1, "api:ec2:DescribeSecurityGroups", agent=POWERSHELL),
                        H(1, "api:sts:GetCallerIdentity", agent=POWERSHELL),
                    ],
                    CONSOLE,
                    sessions_per_day=0.9,
                )
            )
    sec_people = (("fatima.aziz", CHICAGO), ("kevin.brandt", CHICAGO))
    for name, tz in sec_people:
        people.append(
            Human(
                f"{name} (security)",
                secops.get,
                f"{name}@{co}.com",
                tz,
                office_chi,
                [
                    H(4, "api:securityhub:GetFindings", agent=CONSOLE),
                    H(3, "api:guardduty:ListFindings", agent=CONSOLE),
                    H(2, "api:cloudtrail:LookupEvents", agent=CONSOLE),
                    H(2, "GetObject", fnd, S3_CONSOLE),
                    H(1, "Browse", fnd, S3_CONSOLE),
                    H(1, "api:macie2:ListFindings", agent=CONSOLE),
                ],
                CONSOLE,
            )
        )

    # ---- security tooling: Prowler weekly (Monday) across all accounts, Splunk reads trail
    scan_roles = {a: Sessions(a, "SecurityAuditScanner", HOUR) for a in w.accounts}
    scanner_ip = ip(r, "aws:us-east-1")

    def prowler(
        w: World, rng: Rng, t: int, agent: Agent = PROWLER, who: str = "prowler"
    ) -> list[Call]:
        out = []
        for a in w.accounts:
            h = Hand(w, rng, lambda t, a=a: scan_roles[a].get(who, t), (scanner_ip, None), agent, t)
            regions = (E1, EW2) if a == hr else (E1,)
            posture_scan(h, [b for b in ours if b.account == a], regions)
            out += h.calls
            t = h.t + rng.randrange(30, 120)
        return out

    scan = Job("prowler weekly", daily("07:00", 0, days=(0,), jitter=600), prowler)
    splunk_user = iam_user(logs, "svc-splunk-ingest")

    def splunk_reads(w: World, files: list, rng: Rng) -> list[Call]:
        out = []
        for key, size, t, _, _ in files:
            if "CloudTrail-Digest" not in key and rng.random() < min(1.0, w.scale * 1.5):
                out.append(
                    s3(
                        t + rng.randrange(20, 240),
                        splunk_user,
                        "GetObject",
                        trail,
                        (dc_ips[1], None),
                        SPLUNK,
                        key=key,
                        size=size,
                    )
                )
        return out

    w.info["delivery_hooks"] = [splunk_reads]
    aws_config = Job(
        "aws-config",
        lambda w, d: [w.day0(d) + k * 6 * HOUR + 900 for k in range(4)],
        lambda w, rng, t: [
            c for i, a in enumerate(w.accounts) for c in config_reads(w, rng, t + i * 40, a, ours)
        ],
    )
    analyzer = Job(
        "access-analyzer",
        daily("04:00", 0, jitter=3600),
        lambda w, rng, t: [c for a in w.accounts for c in analyzer_reads(w, rng, t, a, ours)],
    )
    visitors = Visitors(
        "portal visitors",
        site,
        300,
        shift(LOCAL_DIURNAL, CHICAGO),
        ("-", f"https://www.{co}.com/", "https://www.google.com/"),
    )
    aud_role = Sessions(auditor, "evidence-reader", HOUR)
    aud_ip = ips(w.rng("auditor"), "chicago", 2)
    audit = Workload(
        "audit firm",
        aud_role.get,
        [("evidence-reader", x) for x in aud_ip],
        boto3(os_="win32#10"),
        [H(20, "List", ev), H(80, "GetObject", ev)],
        40,
        shift(hours({range(9, 17): 1.0}), CHICAGO),
        weekdays=WEEKDAYS,
    )
    w.ci_roles = [jenkins_role.arn]
    w.actors = [
        rclone,
        s3b,
        nas_job,
        app,
        fbatch,
        jenkins,
        deploys,
        *ssm_actors,
        *people,
        scan,
        aws_config,
        analyzer,
        visitors,
        audit,
    ]

    def ep(
        sid: str,
        desc: str,
        principal: str | None,
        t: int,
        who,
        origin,
        agent,
        fn,
        kind: str = "trap",
        caps: tuple[str, ...] = (),
    ) -> Hand:
        h = Hand(w, w.rng("scenario", sid), who, origin, agent, t)
        fn(h)
        w.episode(w.scenario(sid, kind, caps, desc, principal), h.calls)
        return h

    def over(sid: str, desc: str, principal: str | None, actor: str, t0: int, t1: int) -> None:
        w.overlay(w.scenario(sid, "trap", [], desc, principal), actor, t0, t1)

    # ================================================================== traps
    first = w.scenario(
        "trap-first-hour", "trap", [], "The first hour of data: every principal is new.", None
    )
    for a in w.actors:
        w.overlay(first, a.name, start, start + HOUR)
    d = w.scenario_day(0.3)
    over(
        "trap-rclone-nightly",
        "The legacy IAM user svc-filesync syncs the SFTP drop with "
        "rclone from the data centre, as every night.",
        filesync.principal,
        rclone.name,
        w.at(d, "21:00", LONDON),
        w.at(d + 1, "03:00", LONDON),
    )
    d = w.scenario_day(0.45)
    over(
        "trap-s3-browser-daily",
        "jdoe works in the shared drive with S3 Browser (path-style requests), as every day.",
        jdoe.principal,
        s3b.name,
        w.day0(d),
        w.day0(d) + DAY,
    )
    mon = w.weekday_day(0.5, 0)
    over(
        "trap-weekly-posture-scan",
        "The weekly Prowler scan assumes SecurityAuditScanner in "
        "every account and reads every bucket's settings, trails, detectors.",
        scan_roles[sec].arn,
        scan.name,
        w.at(mon, "06:50"),
        w.at(mon, "09:00"),
    )
    ep(
        "trap-scoutsuite",
        "A security engineer runs ScoutSuite once from a laptop: read-only "
        "Get*/List* across all buckets and services of the finance account (a new tool).",
        scan_roles[fin].arn,
        w.when(0.62, "14:00", CHICAGO),
        lambda t: scan_roles[fin].get("kevin.brandt", t),
        (office_chi[0], None),
        SCOUTSUITE,
        lambda h: posture_scan(h, [b for b in ours if b.account == fin], (E1, "us-west-2")),
    )
    macie = Sessions(
        hr, "AWSServiceRoleForAmazonMacie", HOUR, path="/aws-service-role/macie.amazonaws.com/"
    )

    def macie_job(h: Hand) -> None:
        for b, p in ((hrdocs, hrd), (payroll, pay)):
            for op in ("GetBucketLocation", "GetBucketPolicyStatus", "GetBucketEncryption"):
                h.s3(op, b, size=400)
            h.list(p)
            for _ in range(60):
                h.s3("GetObject", b, key=p.pick(h.rng), size=p.size_of(h.rng))
                h.wait(0, 3)

    ep(
        "trap-macie-discovery",
        "Macie's sensitive-data discovery job samples HR objects "
        "(service-linked role, invokedBy macie.amazonaws.com).",
        macie.arn,
        w.when(0.4, "03:00"),
        lambda t: invoked_by(macie.get("AmazonMacieSession", t), "macie.amazonaws.com"),
        ("macie.amazonaws.com", None),
        Agent("macie.amazonaws.com", "", ""),
        macie_job,
    )
    d = w.scenario_day(0.55)
    over(
        "trap-ssm-agent",
        "The SSM agent on every claims instance reports in every five "
        "minutes (UpdateInstanceInformation), as always.",
        app_role.arn,
        ssm_actors[0].name,
        w.day0(d),
        w.day0(d) + 6 * HOUR,
    )
    d = w.scenario_day(0.6)
    over(
        "trap-nat-instance-role",
        "The claims app instances call S3 over the public endpoint "
        "from the NAT gateways' public IPs with their instance credentials, as every day.",
        app_role.arn,
        app.name,
        w.at(d, "14:00"),
        w.at(d, "20:00"),
    )

    def athena(h: Hand) -> None:
        h.api(
            "athena",
            "StartQueryExecution",
            E1,
            {"queryString": "SELECT ...", "workGroup": "primary"},
            {"queryExecutionId": h.rng.uuid()},
            read_only=False,
        )
        svc = invoked_by(h.who(), "athena.amazonaws.com")
        for _ in range(30):
            c = s3(
                h.t,
                svc,
                "GetObject",
                uploads,
                (ip(h.rng, "aws:us-east-1"), None),
                ATHENA,
                key=upl.pick(h.rng),
                size=upl.size_of(h.rng),
            )
            h.calls.append(c)
            h.wait(0, 2)

    ep(
        "trap-instance-invokedby-athena",
        "The claims app's instance role runs an Athena query; "
        "Athena reads the uploads on its behalf (invokedBy athena.amazonaws.com) from AWS public "
        "addresses.",
        app_role.arn,
        w.when(0.35, "16:00"),
        lambda t: app_role.get(app_hosts[0][0], t),
        (nat[0], None),
        boto3(),
        athena,
    )
    ep(
        "trap-securityhub-triage",
        "Security engineers set findings to NOTIFIED and RESOLVED.",
        secops.arn,
        w.when(0.7, "10:00", CHICAGO),
        lambda t: secops.get(f"fatima.aziz@{co}.com", t),
        (office_chi[1], None),
        CONSOLE,
        lambda h: (
            triage(h, sec, E1, "NOTIFIED", "ticket SEC-4410"),
            h.wait(600, 1800),
            triage(h, sec, E1, "RESOLVED", "remediated"),
        ),
    )
    ep(
        "trap-log-bucket-lifecycle-disabled",
        "CloudOps adds a Disabled lifecycle rule (kept for "
        f"later) and a 2-year expiry to the access-log bucket {al_e1.name}.",
        ops[logs].arn,
        w.when(0.2, "11:00", LONDON),
        lambda t: ops[logs].get(f"sam.turner@{co}.com", t),
        (office_lon[0], None),
        S3_CONSOLE,
        lambda h: h.s3(
            "PutBucketLifecycle",
            al_e1,
            params=lifecycle(
                [
                    expire_rule("retain-2y", "", 730),
                    expire_rule("purge-debug", "debug/", 1, "Disabled"),
                ]
            ),
        ),
    )

    def oncall(h: Hand) -> None:
        h.api("ec2", "DescribeInstances", E1)
        h.api(
            "ec2",
            "RebootInstances",
            E1,
            {"instancesSet": {"items": [{"instanceId": app_hosts[2][0]}]}},
            read_only=False,
        )
        h.list(upl)
        h.read(upl, 8, (10, 60))
        h.api("ssm", "StartSession", E1, {"target": app_hosts[2][0]}, read_only=False)

    ep(
        "trap-oncall-night",
        "CloudOps on call reboots a claims instance and checks uploads at 01:30 Chicago time.",
        ops[claims].arn,
        w.when(0.25, "01:30", CHICAGO),
        lambda t: ops[claims].get(f"luis.romero@{co}.com", t),
        (ip(w.rng("h"), "chicago"), None),
        CONSOLE,
        oncall,
    )
    d = w.scenario_day(0.78)
    over(
        "trap-auditor-cross-account",
        "The external audit firm reads SOC 2 evidence from its own account, as agreed.",
        aud_role.arn,
        audit.name,
        w.day0(d),
        w.day0(d) + DAY,
    )
    audit.boost.append((w.day0(d), w.day0(d) + DAY, 6.0))
    d = w.weekday_day(0.84, 3, LONDON)
    dt = (deploys.when(w, d) or [w.at(d, "15:30", LONDON)])[0]
    over(
        "trap-website-deploy",
        f"Jenkins deploys the claims portal to {static.name}.",
        jenkins_role.arn,
        deploys.name,
        dt - 60,
        dt + 3600,
    )

    def harden(h: Hand) -> None:
        for b in ours:
            if b.account in (claims, fin, hr):
                h.s3("PutBucketPublicAccessBlock", b, params=pab(True))
                h.wait(2, 10)

    ep(
        "trap-bpa-hardening",
        "A security engineer turns Block Public Access on for every "
        "finance, HR and claims bucket (a permission change, but a safe one).",
        secops.arn,
        w.when(0.15, "15:00", CHICAGO),
        lambda t: secops.get(f"kevin.brandt@{co}.com", t),
        (office_chi[0], None),
        awscli("s3api.put-public-access-block"),
        harden,
    )
    qc = w.when(0.95, "09:00", LONDON)
    over(
        "trap-quarter-close",
        "Quarter close: the finance batch reads four times its usual volume for a day.",
        batch_role.arn,
        fbatch.name,
        qc,
        qc + 20 * HOUR,
    )
    fbatch.boost.append((qc, qc + 20 * HOUR, 4.0))
    d = w.scenario_day(0.1)
    over(
        "trap-config-reads",
        "AWS Config re-reads every bucket's settings in every account.",
        None,
        aws_config.name,
        w.day0(d),
        w.day0(d) + DAY,
    )

    # ================================================================== attacks
    vps = ips(w.rng("vps"), "vps", 10)
    guesses = [
        f"{co}-{x}"
        for x in (
            "backup",
            "prod",
            "finance",
            "hr",
            "payroll",
            "logs",
            "archive",
            "secrets",
            "dev",
            "test",
            "legal",
            "claims",
            "data",
            "exports",
            "temp",
        )
    ]
    ep(
        "atk-filesync-key-kali",
        "svc-filesync's access key used from a Kali host: discovery "
        "across every bucket, then refused on HR, security and claims buckets and guessed names.",
        filesync.principal,
        w.when(0.08, "03:40"),
        filesync,
        (vps[0], None),
        KALI_CLI,
        lambda h: (
            discovery(h, ours),
            denied_storm(h, guesses, [hrdocs, payroll, evidence, findings, uploads, backups], E1),
        ),
        "attack",
        ("C12", "C13", "C17", "C18"),
    )
    mgmt = A["management"]
    admin = ops[mgmt]
    t = w.when(0.3, "23:20", LONDON)
    h = ep(
        "atk-org-trail-stopped",
        "A stolen CloudOps session in the management account stops "
        "the organization trail for 50 minutes, then starts it again.",
        admin.arn,
        t,
        lambda t: admin.get(f"nina.petrova@{co}.com", t),
        (vps[1], None),
        awscli("cloudtrail.stop-logging", os_="linux#6.1.0-18-amd64", arch="x86_64"),
        lambda h: (
            stop_trail(h, E1, mgmt, w.trail_name),
            h.wait(3000, 3000),
            start_trail(h, E1, mgmt, w.trail_name),
        ),
        "attack",
        ("C01", "C27"),
    )
    w.ct_mutes.append(("*", h.calls[1].t + 1, h.calls[2].t))
    w.scenarios[-1].window = (t, h.calls[2].t)
    t = w.when(0.66, "22:10", LONDON)
    h = ep(
        "atk-classic-selectors",
        "The management account's trail switched to write-only "
        "events without management events (classic eventSelectors).",
        admin.arn,
        t,
        lambda t: admin.get(f"nina.petrova@{co}.com", t),
        (vps[2], None),
        awscli("cloudtrail.put-event-selectors", os_="linux#6.1.0-18-amd64", arch="x86_64"),
        lambda h: narrow_selectors(
            h, E1, mgmt, w.trail_name, reports, advanced=False, drop_management=True
        ),
        "attack",
        ("C02", "C27"),
    )
    sel = h.calls[-1].t
    fixed_at = sel + 3 * HOUR
    for a in w.accounts:
        if a != mgmt:
            w.mgmt_mutes.append((a, sel + 1, fixed_at))
    w.data_mutes.append((reports.name, sel + 1, fixed_at, True))
    w.data_mutes.append((hrdocs.name, sel + 1, fixed_at, True))
    w.data_mutes.append((payroll.name, sel + 1, fixed_at, True))
    w.scenarios[-1].window = (t, fixed_at)
    ep(
        "trap-selectors-restored",
        "The security team restores the organization trail's event selectors.",
        secops.arn,
        fixed_at,
        lambda t: secops.get(f"fatima.aziz@{co}.com", t),
        (office_chi[0], None),
        CONSOLE,
        lambda h: h.api(
            "cloudtrail",
            "PutEventSelectors",
            E1,
            {
                "trailName": w.trail_name,
                "eventSelectors": [
                    {
                        "readWriteType": "All",
                        "includeManagementEvents": True,
                        "dataResources": [
                            {
                                "type": "AWS::S3::Object",
                                "values": [reports.arn + "/", hrdocs.arn + "/", payroll.arn + "/"],
                            }
                        ],
                    }
                ],
            },
            read_only=False,
        ),
    )
    t = w.when(0.45, "02:15", LONDON)
    h = ep(
        "atk-log-archive-deny",
        f"A deny policy on the organization trail bucket {trail.name} "
        "against CloudTrail: no log file is delivered until it is removed.",
        ops[logs].arn,
        t,
        lambda t: ops[logs].get(f"sam.turner@{co}.com", t),
        (vps[3], None),
        awscli("s3api.put-bucket-policy", os_="linux#6.1.0-18-amd64", arch="x86_64"),
        lambda h: deny_log_delivery(h, trail, ["cloudtrail.amazonaws.com"]),
        "attack",
        ("C03", "C27"),
    )
    deny_t = h.calls[-1].t
    restored = deny_t + 90 * 60
    w.ct_mutes.append(("*", deny_t + 120, restored))
    w.scenarios[-1].window = (t, restored)
    ep(
        "trap-trail-policy-restored",
        "The log-archive owners put the trail bucket's policy back.",
        ops[logs].arn,
        restored,
        lambda t: ops[logs].get(f"sam.turner@{co}.com", t),
        (office_lon[1], None),
        S3_CONSOLE,
        lambda h: put_policy(
            h,
            trail,
            [
                allow(
                    {"Service": "cloudtrail.amazonaws.com"},
                    ["s3:PutObject"],
                    trail,
                    "AWSCloudTrailWrite",
                    f"AWSLogs/{w.org_id}/*",
                )
            ],
        ),
    )
    t = w.when(0.55, "04:05")

    def blinding(h: Hand) -> None:
        blind(h, "guardduty-delete", E1, claims)
        blind(h, "guardduty-ipset", E1, sec, bucket=findings.name)
        blind(h, "macie-disable", EW2, hr)
        blind(h, "analyzer-archive", E1, sec)
        blind(h, "securityhub-suppress", E1, sec)
        blind(h, "securityhub-archive", E1, sec)

    ep(
        "atk-detector-blinding",
        "With a stolen security-engineer session: GuardDuty detector "
        "deleted, a trusted IP set added, Macie disabled, an Access Analyzer archive rule, "
        "Security Hub findings suppressed and archived.",
        secops.arn,
        t,
        lambda t: secops.get(f"kevin.brandt@{co}.com", t),
        (vps[4], None),
        boto3(os_="linux#6.1.0"),
        blinding,
        "attack",
        ("C32",),
    )
    ep(
        "atk-jenkins-instance-credentials",
        f"Jenkins' instance credentials (session "
        f"{jenkins_iid}) used from a VPS: bucket list and artifact downloads.",
        jenkins_role.arn,
        w.when(0.2, "20:30"),
        lambda t: jenkins_role.get(jenkins_iid, t),
        (vps[5], None),
        awscli("s3.cp", os_="linux#5.15.0-105-generic", arch="x86_64"),
        lambda h: (
            h.api("sts", "GetCallerIdentity"),
            h.api("s3", "ListBuckets", params={"Host": "s3.amazonaws.com"}),
            h.list(arts),
            h.read(arts, 25, (2, 20)),
        ),
        "attack",
        ("C15", "C12"),
    )
    pubs = ips(w.rng("pub"), "vps", 30)

    def expose(h: Hand) -> None:
        account_pab_off(h, hr, EW2)
        h.wait(60, 300)
        make_public(h, payroll, "acl")
        anon = Hand(w, h.rng, ANONYMOUS, (pubs[0], None), CURL, h.t + 2 * HOUR)
        anonymous_reads(anon, pay, 60, pubs, (CURL, WGET, PYTHON_REQUESTS))
        h.calls += anon.calls

    ep(
        "atk-hr-public-acl",
        f"Account-level Block Public Access off in the HR account and an "
        f"AllUsers READ ACL on {payroll.name}; anonymous listing and downloads follow.",
        ops[hr].arn,
        w.when(0.4, "19:45", LONDON),
        lambda t: ops[hr].get(f"nina.petrova@{co}.com", t),
        (vps[6], None),
        S3_CONSOLE,
        expose,
        "attack",
        ("C06", "C19"),
    )
    ep(
        "atk-replication-foreign",
        f"Replication of {reports.name} to a bucket of account {evil}, "
        "with default encryption deleted and MFA delete off.",
        ops[fin].arn,
        w.when(0.75, "21:00", LONDON),
        lambda t: ops[fin].get(f"oliver.shah@{co}.com", t),
        (vps[7], None),
        awscli("s3api.put-bucket-replication"),
        lambda h: (
            replicate_to(h, reports, loot, f"arn:aws:iam::{fin}:role/s3-replication"),
            recovery_off(h, reports, ("encryption", "mfa")),
        ),
        "attack",
        ("C07", "C05"),
    )
    new_ip = ip(w.rng("jdoe-new"), "vps")
    ep(
        "atk-s3browser-mass-delete",
        "jdoe's key with S3 Browser from a new address deletes "
        "3,000 shared-drive files (DeleteObjects; only the access log has the keys) and some "
        "versions for good.",
        jdoe.principal,
        w.when(0.86, "23:30", CHICAGO),
        jdoe,
        (new_ip, None),
        S3_BROWSER,
        lambda h: (
            mass_delete(h, drive, 3000, batch=1000),
            mass_delete(h, drive, 150, versions=True),
        ),
        "attack",
        ("C20", "C12"),
    )
    ep(
        "atk-rclone-hr-sweep",
        f"svc-filesync (usual rclone, usual data-centre address) "
        f"copies all of {hrdocs.name}, a bucket it never touched.",
        filesync.principal,
        w.when(0.6, "23:15", LONDON),
        filesync,
        (dc_ips[0], None),
        RCLONE,
        lambda h: h.read(hrd, 2500, (0, 1), list_every=100),
        "attack",
        ("C09", "C10", "C11"),
    )
    ep(
        "atk-analyst-sunday-night",
        "A finance analyst session at 03:00 on a Sunday (Chicago) "
        f"downloads 300 reports from {reports.name}.",
        analyst.arn,
        w.at(w.weekday_day(0.7, 6, CHICAGO), "03:00", CHICAGO),
        lambda t: analyst.get(f"megan.kowalski@{co}.com", t),
        (office_chi[2], None),
        S3_CONSOLE,
        lambda h: h.read(rep, 300, (1, 8)),
        "attack",
        ("C28", "C09"),
    )
    ep(
        "atk-scanner-reads-objects",
        f"The posture-scan role, which only reads settings, "
        f"downloads HR documents from {hrdocs.name}.",
        scan_roles[hr].arn,
        w.when(0.5, "13:00"),
        lambda t: scan_roles[hr].get("prowler", t),
        (scanner_ip, None),
        PROWLER,
        lambda h: (h.list(hrd), h.read(hrd, 80, (1, 5))),
        "attack",
        ("C29", "C11"),
    )
    ep(
        "atk-shared-drive-secrets",
        "jdoe's key from a new host with Cyberduck (a client new for "
        "jdoe) reads credentials, SSH keys and certificates from the shared drive.",
        jdoe.principal,
        w.when(0.35, "02:00"),
        jdoe,
        (vps[8], None),
        CYBERDUCK,
        lambda h: [h.s3("GetObject", shared, key=k, size=3000) for k in home.pool[:4]],
        "attack",
        ("C26", "C13", "C12"),
    )
    foreign_kms = f"arn:aws:kms:{E1}:{evil}:key/{w.rng('fk').uuid()}"

    def ransom(h: Hand) -> None:
        h.read(rep, 500, (0, 1), list_every=60)
        h.wait(600, 1200)
        reencrypt(h, rep, 400, foreign_key=foreign_kms)
        h.write(rep, 600, (0, 1), overwrite=True)
        ransom_note(h, reports)

    ep(
        "atk-finance-ransom",
        f"A stolen CloudOps session in the finance account: bulk read, "
        f"re-encryption under a KMS key of account {evil}, an overwrite burst and a ransom note "
        f"in {reports.name}.",
        ops[fin].arn,
        w.when(0.92, "01:00", LONDON),
        lambda t: ops[fin].get(f"oliver.shah@{co}.com", t),
        (vps[9], None),
        boto3(os_="linux#6.1.0"),
        ransom,
        "attack",
        ("C09", "C21", "C22", "C23", "C24"),
    )

    def foreign_vpce(h: Hand) -> None:
        vpce_denied(h, reports, w.vpce["finance"], evil, 30, private(h.rng, "10.40.2"))
        h.using(origin=(private(h.rng, "10.77.1"), w.vpce["evil"]))
        h.read(rep, 150, (1, 10))

    ep(
        "atk-foreign-endpoint",
        "Requests of a foreign account denied by the finance VPC "
        "endpoint policy, then the finance batch role reading reports through an endpoint of "
        f"account {evil}.",
        batch_role.arn,
        w.when(0.25, "12:30"),
        lambda t: batch_role.get(batch_hosts[0][0], t),
        batch_hosts[0],
        boto3(),
        foreign_vpce,
        "attack",
        ("C14",),
    )
    tor = ips(w.rng("tor"), "tor", 2)
    ep(
        "atk-tor-hr-session",
        "An HR partner session used from Tor exit nodes to read HR documents.",
        hrp.arn,
        w.when(0.15, "22:00"),
        lambda t: hrp.get(f"grace.obi@{co}.com", t),
        (tor[0], None),
        S3_CONSOLE,
        lambda h: [h.using(origin=(x, None)).read(hrd, 40, (3, 30)) for x in tor],
        "attack",
        ("C16", "C12"),
    )
    ep(
        "atk-jenkins-policy-change",
        f"Jenkins' role rewrites the bucket policy of "
        f"{uploads.name} to grant itself access, something it never does.",
        jenkins_role.arn,
        w.when(0.8, "16:40"),
        lambda t: jenkins_role.get(jenkins_iid, t),
        (jenkins_ip, None),
        JENKINS,
        lambda h: (
            h.s3("GetBucketPolicy", uploads, size=800),
            put_policy(
                h, uploads, [allow({"AWS": jenkins_role.arn}, ["s3:*"], uploads, "CIAccess")]
            ),
        ),
        "attack",
        ("C08", "C29"),
    )
    t = w.when(0.58, "00:40", LONDON)
    h = ep(
        "atk-claims-logging-off",
        f"Access logging switched off on {uploads.name} by a stolen "
        "CloudOps session; the bucket's access log goes silent.",
        ops[claims].arn,
        t,
        lambda t: ops[claims].get(f"luis.romero@{co}.com", t),
        (vps[3], None),
        S3_CONSOLE,
        lambda h: logging_off(h, uploads),
        "attack",
        ("C04", "C27"),
    )
    off = h.calls[-1].t
    w.al_mutes.append((uploads.name, off + 60, off + 30 * HOUR))
    w.scenarios[-1].window = (t, off + 30 * HOUR)
    ep(
        "atk-portal-skimmer",
        f"A compromised claims app instance writes JavaScript into the "
        f"portal website bucket {static.name} (only Jenkins deploys there).",
        app_role.arn,
        w.when(0.32, "18:20"),
        lambda t: app_role.get(app_hosts[1][0], t),
        (app_hosts[1][1], None),
        boto3(),
        lambda h: (
            h.s3("PutObject", static, key="static/js/analytics.min.js", size=51234),
            h.s3("PutObject", static, key="login.html", size=14200),
        ),
        "attack",
        ("C30",),
    )
    return w
