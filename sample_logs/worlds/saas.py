"""The ``saas`` style: a B2B SaaS company with four accounts and account trails.

Customers upload and download files through the API (ECS tasks behind an S3 VPC endpoint, and
the customers' browsers with presigned URLs from everywhere); a media worker makes previews;
a nightly Lambda builds exports; a backup instance in a public subnet ships database dumps
from its Elastic IP. Engineers in Berlin and New York use SSO (console and CLI); GitHub
Actions deploys the website and runs Terraform drift detection every morning, refreshing
every bucket's settings; an analytics vendor pulls exports cross-account.
"""

from __future__ import annotations

from aws import ANONYMOUS, DAY, HOUR, Agent, Bucket, Rng, iam_user
from behaviour import Habit, Human, Job, Workload, daily, fixed
from clients import (
    CONSOLE,
    CURL,
    GHA_CLI,
    GO2,
    KALI_CLI,
    LAMBDA_PY,
    NODE,
    PYTHON_REQUESTS,
    S3_CONSOLE,
    TERRAFORM,
    TRUFFLEHOG,
    WGET,
    awscli,
    boto3,
)
from hand import Hand, expire_rule, lifecycle, logging_status, tagging
from intrusions import (
    anonymous_reads,
    blind,
    copy_out,
    denied_storm,
    discovery,
    foreign_via_endpoint,
    grant_foreign,
    logging_off,
    make_public,
    mass_delete,
    narrow_selectors,
    presigned_abuse,
    ransom_note,
    recovery_off,
    reencrypt,
    short_expiry,
    start_trail,
    stop_trail,
    vpce_denied,
)
from net import ip, ips, private
from services import (
    CredentialRefresh,
    Visitors,
    analyzer_reads,
    config_reads,
    terraform_refresh,
    triage,
    web_identity_login,
)
from world import (
    LOCAL_DIURNAL,
    Expiry,
    Prefix,
    Sessions,
    World,
    account_id,
    add_bucket,
    hours,
    pool,
    shift,
    sso,
)

NAMES = ("lumio", "parcelly", "quillstack", "tandemly", "vireo", "orbitly", "kelpie")
DEFAULT_START = "2026-01-12"  # a Monday in winter (no daylight-saving change)
BERLIN, NEWYORK = 1.0, -5.0
E1, W1 = "us-east-1", "eu-west-1"


def build(seed: int, start: int, days: int, scale: float) -> World:
    co = NAMES[seed % len(NAMES)]
    w = World("saas", seed, start, days, scale, co, {"berlin": BERLIN, "newyork": NEWYORK})
    r = w.rng("build")
    prod, staging, shared, security = (
        account_id("saas", seed, n) for n in ("prod", "staging", "shared", "security")
    )
    vendor, evil, evil2 = (account_id("saas", seed, n) for n in ("vendor", "evil", "evil2"))
    w.accounts = {prod: "prod", staging: "staging", shared: "shared", security: "security"}
    w.partners = {vendor: "insights vendor (sanctioned cross-account reader)"}
    w.foreign = {evil: "attacker", evil2: "attacker (second)"}
    w.trail_name = f"{co}-audit"
    w.trail_all_buckets = {prod: "write", shared: "write"}
    w.vpce = {
        "prod-use1": (f"vpce-0{r.hexl(16)}", prod),
        "prod-euw1": (f"vpce-0{r.hexl(16)}", prod),
        "staging-use1": (f"vpce-0{r.hexl(16)}", staging),
        "attacker": (f"vpce-0{r.hexl(16)}", evil),
    }
    v_e1, v_w1, v_stg = w.vpce["prod-use1"], w.vpce["prod-euw1"], w.vpce["staging-use1"]

    # ---- buckets
    B = add_bucket
    uploads = B(
        w, f"{co}-user-uploads", prod, E1, data_events="all", access_logs=True, versioned=True
    )
    eu_uploads = B(w, f"{co}-eu-user-uploads", prod, W1, data_events="all", access_logs=True)
    exports = B(
        w, f"{co}-customer-exports", prod, E1, data_events="all", access_logs=True, kms=True
    )
    backups = B(w, f"{co}-db-backups", prod, E1, data_events="write", kms=True, versioned=True)
    web = B(w, f"{co}-web-assets", prod, E1, access_logs=True, website=True)
    appcfg = B(w, f"{co}-app-config", prod, E1, data_events="all")
    stg_up = B(w, f"{co}-staging-uploads", staging, E1, access_logs=True)
    stg_data = B(w, f"{co}-staging-data", staging, E1)
    tfstate = B(w, f"{co}-terraform-state", shared, E1, data_events="all", versioned=True)
    artifacts = B(w, f"{co}-ci-artifacts", shared, E1, data_events="write", access_logs=True)
    trail = B(w, f"{co}-cloudtrail-logs", security, E1, access_logs=True)
    al_bucket = B(w, f"{co}-s3-access-logs", security, E1)
    w.trail_bucket = trail
    w.info["log_file_validation"] = True
    loot = Bucket(f"{r.choice(('backup-sync', 'cdn-mirror', 'dataxfer'))}-{r.hexl(6)}", evil, E1)
    ours = [
        uploads,
        eu_uploads,
        exports,
        backups,
        web,
        appcfg,
        stg_up,
        stg_data,
        tfstate,
        artifacts,
        trail,
        al_bucket,
    ]

    # ---- key spaces
    P = lambda b, tpl, size, n: pool(r, Prefix(b, tpl, size), start, n)  # noqa: E731
    up = P(uploads, "org/{u}/files/{uuid}/{name}", 1_200_000, 500)
    previews = P(uploads, "org/{u}/previews/{uuid}_640.webp", 60_000, 400)
    eu_up = P(eu_uploads, "org/{u}/files/{uuid}/{name}", 900_000, 300)
    exp = P(exports, "exports/{u}/{date}/export-{h8}.zip", 25_000_000, 120)
    partner = P(exports, "partner/insights/{date}/accounts-{n}.csv.gz", 4_000_000, 60)
    dumps = P(backups, "postgres/main/{date}/base-{h8}.tar.zst", 400_000_000, 40)
    cfg = Prefix(
        appcfg,
        "services/{n}/config.json",
        3_000,
        [
            "services/api-server/production.env",
            "services/api-server/config.json",
            "services/media-worker/production.env",
            "services/export-builder/config.json",
        ],
    )
    site = Prefix(
        web,
        "",
        40_000,
        [
            "index.html",
            "pricing/index.html",
            "blog/index.html",
            "assets/app.8d1f0c.js",
            "assets/vendor.51ab2e.js",
            "assets/style.c3f1a9.css",
            "img/logo.svg",
            "img/hero 2x.webp",
            "docs/getting-started.html",
        ],
    )
    stg = P(stg_up, "org/{u}/files/{uuid}/{name}", 800_000, 150)
    stg_fixtures = P(stg_data, "fixtures/{date}/seed-{n}.json", 50_000, 60)
    state_keys = {a: f"env/{n}/terraform.tfstate" for a, n in w.accounts.items()}
    state = Prefix(tfstate, "env/{n}/terraform.tfstate", 600_000, list(state_keys.values()))
    art = P(artifacts, "builds/{h8}/app-{h8}.tar.gz", 40_000_000, 200)
    tmp = P(artifacts, "tmp/{date}/{uuid}.tmp", 5_000_000, 0)
    trail_files = P(
        trail,
        f"AWSLogs/{prod}/CloudTrail/{E1}/{{ymd}}/{prod}_CloudTrail_{E1}_{{ct}}_{{r16}}.json.gz",
        30_000,
        300,
    )
    settings = {
        uploads.name: {"policy"},
        exports.name: {"policy"},
        web.name: {"policy"},
        trail.name: {"policy", "lifecycle"},
        al_bucket.name: {"policy", "lifecycle"},
        backups.name: {"lifecycle"},
        artifacts.name: {"lifecycle"},
    }

    # ---- workloads
    api_role = Sessions(prod, "api-server-task", 6 * HOUR)

    def api_tasks(day: int) -> list[tuple[str, str]]:
        """ECS tasks (session name = task id) replaced by a deploy every other day."""
        return [
            (
                Rng("task", seed, day // 2, i).hexl(32),
                private(Rng("task-ip", seed, day // 2, i), f"10.0.{1 + i % 3}"),
            )
            for i in range(6)
        ]

    us_customers = shift(LOCAL_DIURNAL, NEWYORK)
    eu_customers = shift(LOCAL_DIURNAL, BERLIN)
    H = Habit
    api = Workload(
        "api-server",
        api_role.get,
        [],
        NODE,
        [
            H(30, "GetObject", up),
            H(14, "PutObject", up),
            H(10, "HeadObject", up),
            H(6, "GetObject", previews),
            H(4, "GetObject", exp),
            H(0.4, "GetObject", cfg),
            H(14, "Presign", up),
            H(7, "PresignPut", up),
            H(5, "Presign", exp),
            H(4, "Presign", previews),
            H(2, "List", up),
            H(1.2, "DeleteObject", up),
            H(0.6, "GetObject", up, error="NoSuchKey"),
        ],
        3200,
        us_customers,
        vpce=v_e1,
        host_fn=api_tasks,
        upgrades=[(w.when(0.33, "10:00"), Agent(NODE.ua.replace("3.600.0", "3.621.0"), xid=True))],
    )
    api_eu = Workload(
        "api-server-eu",
        api_role.get,
        [],
        NODE,
        [
            H(30, "GetObject", eu_up),
            H(15, "PutObject", eu_up),
            H(10, "HeadObject", eu_up),
            H(12, "Presign", eu_up),
            H(6, "PresignPut", eu_up),
            H(2, "List", eu_up),
        ],
        800,
        eu_customers,
        vpce=v_w1,
        region=W1,
        host_fn=lambda day: [
            (
                Rng("eutask", seed, day // 2, i).hexl(32),
                private(Rng("eu-ip", seed, day // 2, i), "10.8.1"),
            )
            for i in range(2)
        ],
    )
    worker_role = Sessions(prod, "media-worker-task", 6 * HOUR)
    worker_tasks = [(r.hexl(32), private(r, "10.0.2")) for _ in range(3)]
    worker = Workload(
        "media-worker",
        worker_role.get,
        worker_tasks,
        boto3(" exec-env/AWS_ECS_FARGATE"),
        [
            H(40, "GetObject", up),
            H(30, "PutObject", previews),
            H(10, "HeadObject", previews),
            H(6, "GetObject", previews),
            H(3, "CopyObject", previews),
            H(2, "DeleteObject", previews),
            H(0.5, "Batch", previews),
            H(1, "List", previews),
        ],
        1800,
        us_customers,
        vpce=v_e1,
    )
    lam_role = Sessions(prod, "export-builder-lambda", 4 * HOUR)
    lam_ips = ips(r, "aws:us-east-1", 6)
    exporter = Workload(
        "export-builder",
        lam_role.get,
        [("export-builder", i) for i in lam_ips],
        LAMBDA_PY,
        [
            H(50, "GetObject", up),
            H(20, "HeadObject", up),
            H(8, "Multipart", exp),
            H(6, "PutObject", partner),
            H(4, "List", up),
        ],
        300,
        hours({2: 1, 3: 1, 4: 0.4}, 0.01),
    )
    bkp_role = Sessions(prod, "db-backup-instance", 6 * HOUR, ec2=True)
    bkp_host = ("i-0" + r.hexl(16), ip(r, "aws:us-east-1"))  # public subnet, Elastic IP

    def backup_run(w: World, rng: Rng, t: int) -> list:
        h = Hand(w, rng, lambda t: bkp_role.get(bkp_host[0], t), (bkp_host[1], None), GO2, t)
        h.s3("ListObjects", backups, query={"list-type": "2", "prefix": "postgres/main/"})
        for _ in range(rng.randrange(3, 6)):
            key, size = dumps.new_key(rng, h.t), dumps.size_of(rng)
            h.s3("CreateMultipartUpload", backups, key=key)
            for i in range(24):
                h.s3(
                    "UploadPart",
                    backups,
                    key=key,
                    size=size // 24,
                    params={"partNumber": str(i + 1), "uploadId": "Up" + rng.alnum(30)},
                )
                h.wait(2, 9)
            h.s3("CompleteMultipartUpload", backups, key=key, size=size)
            dumps.add(key)
        h.s3("DeleteObject", backups, key=dumps.pick(rng))
        return h.calls

    backup = Job("db-backup", daily("03:30", 0, jitter=600), backup_run)
    vend_role = Sessions(vendor, "insights-sync", HOUR)
    vend_ips = ips(r, "aws:us-east-1", 2)
    vend = Workload(
        "vendor-sync",
        vend_role.get,
        [("insights-sync", i) for i in vend_ips],
        Agent(
            "aws-sdk-go/1.51.21 (go1.21.9; linux; amd64)", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"
        ),
        [H(10, "List", partner), H(90, "GetObject", partner)],
        300,
        [1.0] * 24,
    )
    stg_role = Sessions(staging, "staging-api-task", 6 * HOUR)
    stg_api = Workload(
        "staging-api",
        stg_role.get,
        [(r.hexl(32), private(r, "10.20.1"))],
        NODE,
        [
            H(40, "GetObject", stg),
            H(30, "PutObject", stg),
            H(10, "HeadObject", stg),
            H(5, "GetObject", stg_fixtures),
            H(3, "List", stg),
        ],
        400,
        shift(LOCAL_DIURNAL, BERLIN),
        vpce=v_stg,
        weekdays=(1, 1, 1, 1, 1, 0.2, 0.2),
    )
    visitors = Visitors(
        "website visitors",
        site,
        900,
        us_customers,
        (
            "-",
            "https://www.google.com/",
            "https://news.ycombinator.com/",
            f"https://www.{co}.example/",
        ),
    )
    refresh = CredentialRefresh(
        "ecs credentials", api_role.arn, lambda day: [s for s, _ in api_tasks(day)], "ecs-tasks", E1
    )

    # ---- people (SSO)
    dev_prod = sso(w, prod, "DeveloperAccess")
    admin_prod = sso(w, prod, "AdministratorAccess")
    dev_stg = sso(w, staging, "PowerUserAccess")
    sec = sso(w, security, "SecurityAudit")
    support = sso(w, prod, "SupportDownloads")
    cli_cp, cli_ls = awscli("s3.cp"), awscli("s3.ls")
    dev_habits = [
        H(4, "Browse", up, S3_CONSOLE),
        H(3, "GetObject", up, cli_cp),
        H(2, "List", up, cli_ls),
        H(3, "api:ecs:DescribeServices", agent=CONSOLE),
        H(3, "api:logs:FilterLogEvents", agent=CONSOLE),
        H(2, "api:ecs:ListTasks", agent=CONSOLE),
        H(2, "api:cloudwatch:GetMetricData", agent=CONSOLE),
        H(1, "api:sts:GetCallerIdentity", agent=cli_cp),
        H(1, "Browse", exp, S3_CONSOLE),
        H(0.6, "GetObject", previews, cli_cp),
        H(0.4, "api:ecr:DescribeImages", agent=CONSOLE),
        H(0.3, "List", dumps, cli_ls, error="AccessDenied"),
        H(0.2, "api:iam:ListRoles", agent=CONSOLE, error="AccessDenied"),
    ]
    stg_habits = [
        H(4, "Browse", stg, S3_CONSOLE),
        H(4, "PutObject", stg, cli_cp),
        H(3, "GetObject", stg, cli_cp),
        H(2, "PutObject", stg_fixtures, cli_cp),
        H(2, "api:ecs:UpdateService", agent=CONSOLE),
        H(1, "DeleteObject", stg, cli_cp),
        H(1, "api:logs:FilterLogEvents", agent=CONSOLE),
    ]
    people = []
    for i, (name, tz, city) in enumerate(
        (
            ("lena.hoffmann", BERLIN, "berlin"),
            ("jonas.weber", BERLIN, "berlin"),
            ("mira.schulz", BERLIN, "berlin"),
            ("dan.oconnor", NEWYORK, "newyork"),
            ("priya.raman", NEWYORK, "newyork"),
        )
    ):
        email = f"{name}@{co}.example"
        homes = ips(w.rng("home", name), city, 2)
        people.append(
            Human(
                f"{name} (prod)",
                dev_prod.get,
                email,
                tz,
                homes,
                dev_habits,
                CONSOLE,
                sessions_per_day=1.4,
            )
        )
        if i % 2 == 0:
            people.append(
                Human(
                    f"{name} (staging)",
                    dev_stg.get,
                    email,
                    tz,
                    homes,
                    stg_habits,
                    CONSOLE,
                    sessions_per_day=0.8,
                )
            )
    sec_email = f"noor.haddad@{co}.example"
    sec_home = ips(w.rng("home", "noor"), "berlin", 2)
    sec_habits = [
        H(4, "api:securityhub:GetFindings", agent=CONSOLE),
        H(3, "api:guardduty:ListFindings", agent=CONSOLE),
        H(2, "api:guardduty:GetFindings", agent=CONSOLE),
        H(2, "api:access-analyzer:ListFindings", agent=CONSOLE),
        H(2, "api:cloudtrail:LookupEvents", agent=CONSOLE),
        H(1, "Browse", trail_files, S3_CONSOLE),
    ]
    people.append(
        Human(
            "noor.haddad (security)",
            sec.get,
            sec_email,
            BERLIN,
            sec_home,
            sec_habits,
            CONSOLE,
            sessions_per_day=1.2,
        )
    )
    sup_email = f"alex.kim@{co}.example"
    sup_home = ips(w.rng("home", "alex"), "newyork", 2)
    people.append(
        Human(
            "alex.kim (support)",
            support.get,
            sup_email,
            NEWYORK,
            sup_home,
            [
                H(5, "Browse", exp, S3_CONSOLE),
                H(4, "GetObject", exp, S3_CONSOLE),
                H(2, "Browse", up, S3_CONSOLE),
                H(2, "GetObject", up, S3_CONSOLE),
            ],
            S3_CONSOLE,
            sessions_per_day=1.0,
            actions=(3, 12),
        )
    )

    # ---- CI: GitHub Actions (OIDC) deploys and Terraform drift detection
    provider = "arn:aws:iam::{}:oidc-provider/token.actions.githubusercontent.com"
    runners = ips(r, "github", 12)
    deploy_role = Sessions(prod, "gha-web-deploy", HOUR, web_identity=provider.format(prod))
    tf_roles = {
        a: Sessions(a, "gha-terraform", HOUR, web_identity=provider.format(a)) for a in w.accounts
    }
    w.ci_roles = [deploy_role.arn] + [s.arn for s in tf_roles.values()]

    def deploy(w: World, rng: Rng, t: int) -> list:
        h = Hand(
            w,
            rng,
            lambda t: deploy_role.get("GitHubActions", t),
            (rng.choice(runners), None),
            GHA_CLI,
            t,
        )
        web_identity_login(h, deploy_role.arn, f"{co}/website", provider.format(prod))
        h.s3("ListObjects", web, query={"list-type": "2", "prefix": "assets/"})
        build = rng.hexl(6)
        new = [
            f"assets/app.{build}.js",
            f"assets/vendor.{rng.hexl(6)}.js",
            f"assets/style.{rng.hexl(6)}.css",
        ]
        for k in [*new, "index.html", "pricing/index.html", "blog/index.html"]:
            h.s3(
                "PutObject",
                web,
                key=k,
                size=rng.randrange(3000, 400000),
                params={
                    "Content-Type": "text/html"
                    if k.endswith(".html")
                    else "application/javascript"
                    if k.endswith(".js")
                    else "text/css"
                },
            )
        old = [k for k in site.pool if k.startswith("assets/") and k not in new][:3]
        if old:
            h.s3("DeleteObjects", web, keys=old, params={"delete": ""})
        site.pool[:] = [k for k in site.pool if k not in old] + new
        h.api(
            "cloudfront",
            "CreateInvalidation",
            E1,
            {
                "distributionId": "E2QWRUHAPOMQZL",
                "invalidationBatch": {
                    "paths": {"quantity": 1, "items": ["/*"]},
                    "callerReference": rng.hexl(12),
                },
            },
            read_only=False,
        )
        return h.calls

    def deploy_times(w: World, day: int) -> list[int]:
        rng = w.rng("deploy-times", day)
        t0 = w.day0(day)
        if (t0 // DAY + 3) % 7 >= 5:  # weekend (1970-01-01 was a Thursday)
            return []
        n = rng.randrange(1, 4)
        return sorted(t0 + int(rng.uniform(8, 20) * HOUR) for _ in range(n))

    def tf_refresh(w: World, rng: Rng, t: int, apply: list | None = None) -> list:
        calls = []
        for a in w.accounts:
            mine = [b for b in ours if b.account == a]
            h = Hand(
                w,
                rng,
                lambda t, a=a: tf_roles[a].get("GitHubActions", t),
                (rng.choice(runners), None),
                TERRAFORM,
                t,
            )
            web_identity_login(h, tf_roles[a].arn, f"{co}/infrastructure", provider.format(a))
            terraform_refresh(
                h,
                mine,
                state,
                state_keys[a],
                settings,
                extra=lambda h: (
                    h.api("iam", "GetRole", params={"roleName": "api-server-task"}),
                    h.api("iam", "ListRolePolicies", params={"roleName": "api-server-task"}),
                    h.api("kms", "DescribeKey", E1, {"keyId": "alias/app"}),
                    h.api("ec2", "DescribeVpcEndpoints", E1, {"vpcEndpointIds": []}),
                ),
                list_buckets=a == prod,
            )
            t += rng.randrange(20, 90)
            calls += h.calls
        return calls

    tf_job = Job("terraform-drift", daily("06:00", 0, jitter=900), tf_refresh)
    deploys = Job("website-deploy", deploy_times, deploy)
    aws_config = Job(
        "aws-config",
        lambda w, d: [w.day0(d) + k * 6 * HOUR + 1200 for k in range(4)],
        lambda w, rng, t: config_reads(w, rng, t, prod, ours),
    )
    analyzer = Job(
        "access-analyzer",
        daily("11:00", 0, jitter=3600),
        lambda w, rng, t: [c for a in w.accounts for c in analyzer_reads(w, rng, t, a, ours)],
    )
    circle_user = iam_user(shared, "circleci-artifacts")
    circle_ips = ips(r, "circleci", 6)
    circle = Workload(
        "circleci-artifacts",
        fixed(circle_user),
        [("", i) for i in circle_ips],
        awscli("s3.cp", os_="linux#5.15.0-1057-aws", arch="x86_64"),
        [
            H(50, "PutObject", art),
            H(20, "PutObject", tmp),
            H(20, "GetObject", art),
            H(5, "List", art),
        ],
        220,
        shift(LOCAL_DIURNAL, BERLIN),
        weekdays=(1, 1, 1, 1, 1, 0.1, 0.05),
    )
    w.expiries.append(Expiry(artifacts.name, "tmp/", 3, start))
    w.actors = [
        api,
        api_eu,
        worker,
        exporter,
        backup,
        vend,
        stg_api,
        visitors,
        refresh,
        *people,
        deploys,
        tf_job,
        aws_config,
        analyzer,
        circle,
    ]
    w.info["settings_with_policy"] = sorted(settings)

    # ================================================================== traps
    first = w.scenario(
        "trap-first-hour",
        "trap",
        [],
        "The first hour of data: every principal, "
        "bucket, network and agent is new to the detector.",
        None,
    )
    for a in w.actors:
        w.overlay(first, a.name, start, start + HOUR)

    d = w.scenario_day(0.3)
    s = w.scenario(
        "trap-terraform-refresh",
        "trap",
        [],
        "GitHub Actions Terraform drift "
        "detection lists the buckets and reads every bucket's policy, ACL, encryption, "
        "lifecycle and more in all four accounts (404s for absent settings), as every "
        "morning.",
        tf_roles[prod].arn,
    )
    for a in tf_job.when(w, d):
        w.overlay(s, tf_job.name, a - 60, a + HOUR)
    d = w.scenario_day(0.42)
    s = w.scenario(
        "trap-website-deploy",
        "trap",
        [],
        f"The deploy role publishes new JS/HTML "
        f"to the website bucket {web.name} and deletes old assets.",
        deploy_role.arn,
    )
    for a in deploy_times(w, d)[:1] or [w.at(d, "14:00")]:
        w.overlay(s, deploys.name, a - 60, a + 1800)
    bkp_day = w.scenario_day(0.5)
    s = w.scenario(
        "trap-backup-instance-public-ip",
        "trap",
        [],
        "The database backup instance "
        "(public subnet) uploads dumps from its Elastic IP with its instance "
        f"credentials, as every night, to {backups.name}.",
        bkp_role.arn,
    )
    w.overlay(s, backup.name, w.at(bkp_day, "03:00"), w.at(bkp_day, "06:00"))
    vday = w.scenario_day(0.66)
    s = w.scenario(
        "trap-vendor-month-end",
        "trap",
        [],
        "The sanctioned vendor's month-end full "
        f"pull of {exports.name}/partner/ (5x its usual reads) from its own account.",
        vend_role.arn,
    )
    t0 = w.at(vday, "01:00")
    vend.boost.append((t0, t0 + 5 * HOUR, 5.0))
    w.overlay(s, vend.name, t0, t0 + 5 * HOUR)

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

    lena = "lena.hoffmann@" + co + ".example"
    lena_home = ips(w.rng("home", "lena.hoffmann"), "berlin", 2)

    def oncall(h: Hand) -> None:
        h.api("ecs", "DescribeServices", E1, {"cluster": "prod", "services": ["api-server"]})
        h.api("logs", "FilterLogEvents", E1, {"logGroupName": "/ecs/api-server"})
        h.wait(60, 300)
        h.api(
            "ecs",
            "UpdateService",
            E1,
            {"cluster": "prod", "service": "api-server", "forceNewDeployment": True},
            read_only=False,
        )
        h.using(agent=cli_ls)
        h.list(up)
        h.read(up, 12, (5, 60))
        h.api("cloudwatch", "GetMetricData", E1, agent=CONSOLE)

    ep(
        "trap-oncall-night",
        f"On-call engineer {lena} handles a page at 02:40 Berlin time: "
        "restarts the API service and inspects a few uploads from home.",
        admin_prod.arn,
        w.when(0.2, "02:40", BERLIN),
        lambda t: admin_prod.get(lena, t),
        (lena_home[0], None),
        CONSOLE,
        oncall,
    )
    ep(
        "trap-securityhub-triage",
        "The security engineer closes and acknowledges Security Hub "
        "findings (BatchUpdateFindings workflow RESOLVED and NOTIFIED).",
        sec.arn,
        w.when(0.55, "10:20", BERLIN),
        lambda t: sec.get(sec_email, t),
        (sec_home[0], None),
        CONSOLE,
        lambda h: (
            triage(h, security, E1, "RESOLVED", "fixed in INFRA-2214"),
            h.wait(300, 900),
            triage(h, security, E1, "NOTIFIED", "owner notified"),
        ),
    )
    apply_t = w.when(0.25, "06:40")

    def tf_apply(h: Hand) -> None:
        h.s3("GetObject", tfstate, key=state_keys[security], size=500_000)
        h.s3(
            "PutBucketLifecycle",
            al_bucket,
            params=lifecycle(
                [
                    expire_rule("expire-access-logs", "", 400),
                    expire_rule("expire-old-partitions", "legacy/", 30, "Disabled"),
                ]
            ),
        )
        h.s3(
            "PutBucketTagging",
            al_bucket,
            params=tagging({"team": "security", "managed-by": "terraform"}),
        )
        h.s3("PutObject", tfstate, key=state_keys[security], size=500_000)

    ep(
        "trap-log-bucket-lifecycle-disabled",
        f"Terraform apply adds a lifecycle rule with Status "
        f"Disabled (and a 400-day expiry) to the access-log bucket {al_bucket.name}.",
        tf_roles[security].arn,
        apply_t,
        lambda t: tf_roles[security].get("GitHubActions", t),
        (runners[0], None),
        TERRAFORM,
        tf_apply,
    )
    tmp_t = w.when(0.35, "07:10")
    tmp_s = w.scenario(
        "trap-tmp-prefix-expiry",
        "trap",
        [],
        f"Terraform apply sets a 1-day "
        f"expiry on the tmp/ prefix of {artifacts.name} (not a log bucket); S3 then "
        "expires the temporary build files.",
        tf_roles[shared].arn,
    )
    h = Hand(
        w,
        w.rng("tmp"),
        lambda t: tf_roles[shared].get("GitHubActions", t),
        (runners[1], None),
        TERRAFORM,
        tmp_t,
    )
    short_expiry(h, artifacts, 1, "tmp/")
    w.episode(tmp_s, h.calls)
    w.expiries.append(Expiry(artifacts.name, "tmp/", 1, tmp_t + DAY, tmp_s.id))
    new_t = w.when(0.6, "13:05")
    notif_role = Sessions(prod, "notification-service-task", 6 * HOUR)
    notif = Workload(
        "notification-service",
        notif_role.get,
        [(r.hexl(32), private(r, "10.0.3")) for _ in range(2)],
        NODE,
        [H(60, "GetObject", previews), H(20, "HeadObject", previews), H(10, "GetObject", cfg)],
        500,
        us_customers,
        vpce=v_e1,
        first=new_t,
    )
    w.actors.append(notif)
    s = w.scenario(
        "trap-new-ci-role",
        "trap",
        [],
        "A new service role (notification-service), "
        "deployed by CI, starts reading previews and its config: its first six hours.",
        notif_role.arn,
    )
    w.overlay(s, notif.name, new_t, new_t + 6 * HOUR)
    camp = w.when(0.75, "17:00", NEWYORK)
    api.boost.append((camp, camp + 3 * HOUR, 3.0))
    s = w.scenario(
        "trap-campaign-spike",
        "trap",
        [],
        "A marketing campaign: three times the "
        "usual customer downloads (many presigned URLs from new IPs) for three hours.",
        api_role.arn,
    )
    w.overlay(s, api.name, camp, camp + 3 * HOUR)
    ep(
        "trap-gdpr-export",
        "Support downloads every export of one customer for a GDPR request "
        "(150 files in the console).",
        support.arn,
        w.when(0.5, "15:30", NEWYORK),
        lambda t: support.get(sup_email, t),
        (sup_home[0], None),
        S3_CONSOLE,
        lambda h: (h.list(exp), h.read(exp, 150, (2, 12))),
    )
    aday = w.scenario_day(0.9)
    s = w.scenario(
        "trap-config-reads",
        "trap",
        [],
        "AWS Config (invokedBy config.amazonaws.com) "
        "reads every prod bucket's settings, as every six hours.",
        None,
    )
    w.overlay(s, aws_config.name, w.day0(aday), w.day0(aday) + DAY)
    ep(
        "trap-new-laptop",
        f"{lena} works from a new Linux laptop (a CLI build and OS never seen before) for a day.",
        dev_prod.arn,
        w.when(0.8, "09:30", BERLIN),
        lambda t: dev_prod.get(lena, t),
        (lena_home[1], None),
        awscli("s3.cp", os_="linux#6.8.0-51-generic", arch="x86_64"),
        lambda h: (
            h.api("sts", "GetCallerIdentity"),
            h.list(up),
            h.read(up, 20, (20, 200)),
            h.read(previews, 10, (20, 200)),
        ),
    )
    lisbon = ip(w.rng("travel"), "lisbon")
    ep(
        "trap-travel",
        f"{lena} works from a hotel in Lisbon: new network, usual work.",
        dev_prod.arn,
        w.when(0.45, "10:00", 0),
        lambda t: dev_prod.get(lena, t),
        (lisbon, None),
        S3_CONSOLE,
        lambda h: (
            h.s3("ListObjects", uploads, query={"list-type": "2"}),
            h.read(up, 8, (30, 300)),
            h.api("ecs", "DescribeServices", E1, agent=CONSOLE),
        ),
    )
    ep(
        "trap-security-reads-trail",
        f"The security engineer downloads CloudTrail files from "
        f"{trail.name} to investigate a GuardDuty finding.",
        sec.arn,
        w.when(0.15, "14:00", BERLIN),
        lambda t: sec.get(sec_email, t),
        (sec_home[1], None),
        awscli("s3.cp"),
        lambda h: (h.list(trail_files), h.read(trail_files, 25, (1, 6))),
    )
    lt = w.when(0.1, "16:00", BERLIN)
    stg_api.boost.append((lt, lt + HOUR, 10.0))
    s = w.scenario(
        "trap-staging-load-test",
        "trap",
        [],
        "A load test in staging: ten times the usual staging API traffic for an hour.",
        stg_role.arn,
    )
    w.overlay(s, stg_api.name, lt, lt + HOUR)

    # ================================================================== attacks
    vps = ips(w.rng("vps"), "vps", 8)

    t = w.when(0.08, "21:10")
    sess = api_tasks(t // DAY)[0][0]
    ep(
        "atk-stolen-task-credentials",
        "API task credentials (SSRF to the container metadata "
        "endpoint) used from a VPS without the VPC endpoint: discovery, a List-then-Get sweep of "
        f"{uploads.name} and the app's .env from {appcfg.name}.",
        api_role.arn,
        t,
        lambda t: api_role.get(sess, t),
        (vps[0], None),
        boto3(os_="linux#6.1.0-18-amd64"),
        lambda h: (
            discovery(h, [uploads, exports, backups, appcfg, web]),
            h.s3("GetObject", appcfg, key="services/api-server/production.env", size=2900),
            h.s3("GetObject", appcfg, key="services/media-worker/production.env", size=2400),
            h.read(up, 900, (0, 2), list_every=40),
        ),
        "attack",
        ("C09", "C10", "C12", "C13", "C14", "C17", "C26"),
    )
    t = w.when(0.28, "04:20")
    ep(
        "atk-backup-instance-credentials",
        "The backup instance's credentials (session "
        f"{bkp_host[0]}) used from a host outside the org, not its Elastic IP: lists and reads "
        f"a few database dumps from {backups.name}.",
        bkp_role.arn,
        t,
        lambda t: bkp_role.get(bkp_host[0], t),
        (vps[1], None),
        awscli("s3.cp", os_="linux#5.15.0-105-generic", arch="x86_64"),
        lambda h: (
            h.api("sts", "GetCallerIdentity"),
            h.s3("ListObjects", backups, query={"list-type": "2", "prefix": "postgres/"}),
            h.read(dumps, 6, (30, 120)),
            h.s3("ListObjects", uploads, query={"list-type": "2"}, error="AccessDenied"),
            h.s3("ListObjects", exports, query={"list-type": "2"}, error="AccessDenied"),
            h.s3("PutObject", backups, key="postgres/main/.probe", size=4),
        ),
        "attack",
        ("C15", "C12"),
    )
    t = w.when(0.42, "23:00")
    wk = worker_tasks[1]

    def slow(h: Hand) -> None:
        n = int(1800 * scale * 2 * 7 / 24)  # ~3x the worker's usual reads over seven hours
        for i in range(n):
            p = up if i % 3 else exp
            h.s3("GetObject", p.bucket, key=p.pick(h.rng), size=p.size_of(h.rng))
            h.wait(int(7 * HOUR / max(n, 1) * 0.5), int(7 * HOUR / max(n, 1) * 1.5))

    ep(
        "atk-slow-exfil-worker",
        f"A compromised media-worker container reads uploads and, new "
        f"for it, {exports.name}, at about three times its usual rate for seven hours, through "
        "its usual VPC endpoint.",
        worker_role.arn,
        t,
        lambda t: worker_role.get(wk[0], t),
        (wk[1], v_e1),
        boto3(" exec-env/AWS_ECS_FARGATE"),
        slow,
        "attack",
        ("C09", "C11"),
    )
    t = w.when(0.6, "01:50", BERLIN)
    jonas = f"jonas.weber@{co}.example"
    vpn = ip(w.rng("vpn"), "vps")
    silence_from = t + 4 * HOUR

    def chain(h: Hand) -> None:
        discovery(h, ours[:8])
        h.wait(300, 900)
        grant_foreign(h, uploads, f"arn:aws:iam::{evil}:root")
        h.wait(120, 600)
        h.read(up, 700, (0, 2), list_every=50)
        h.wait(600, 1200)
        copy_out(h, up, loot, 300)
        h.wait(300, 900)
        mass_delete(h, up, 2500)
        h.wait(60, 300)
        reencrypt(h, previews, 200)
        ransom_note(h, uploads)
        h.t = max(h.t, silence_from - 600)
        logging_off(h, uploads)

    h = ep(
        "atk-sso-session-chain",
        f"A stolen SSO session of {jonas} (AdministratorAccess), from "
        f"a VPN exit at night: discovery, a policy granting account {evil} on {uploads.name}, "
        f"a bulk read, copies into {loot.name} (account {evil}), 2,500 deletes, SSE-C "
        "re-encryption, a ransom note, then access logging switched off.",
        admin_prod.arn,
        t,
        lambda t: admin_prod.get(jonas, t),
        (vpn, None),
        boto3(os_="linux#6.1.0-18-amd64"),
        chain,
        "attack",
        ("C04", "C07", "C08", "C09", "C10", "C17", "C20", "C21", "C23", "C24", "C25", "C27", "C28"),
    )
    off = h.calls[-1].t
    back = off + 20 * HOUR
    w.al_mutes.append((uploads.name, off + 60, back))
    w.scenarios[-1].window = (t, back)
    ep(
        "trap-logging-restored",
        f"The incident responder turns access logging on {uploads.name} back on the next day.",
        admin_prod.arn,
        back,
        lambda t: admin_prod.get(sec_email, t),
        (sec_home[0], None),
        S3_CONSOLE,
        lambda h: h.s3(
            "PutBucketLogging", uploads, params=logging_status(al_bucket.name, f"{uploads.name}/")
        ),
    )
    legacy = iam_user(staging, "legacy-deployer")
    t = w.when(0.18, "22:30")
    h = ep(
        "atk-trail-stopped-staging",
        "A leaked access key of IAM user legacy-deployer: "
        "GuardDuty disabled, then the staging trail stopped.",
        legacy.principal,
        t,
        legacy,
        (vps[2], None),
        awscli("cloudtrail.stop-logging", os_="linux#5.15.0-105-generic", arch="x86_64"),
        lambda h: (
            blind(h, "guardduty-disable", E1, staging),
            h.wait(30, 90),
            stop_trail(h, E1, staging, w.trail_name),
        ),
        "attack",
        ("C01", "C32", "C27"),
    )
    stop = h.calls[-1].t
    restart = stop + 9 * HOUR
    w.ct_mutes.append((staging, stop + 1, restart))
    w.scenarios[-1].window = (t, restart)
    ep(
        "trap-trail-restarted",
        "The on-call engineer starts the staging trail again.",
        dev_stg.arn,
        restart,
        lambda t: dev_stg.get(lena, t),
        (lena_home[0], None),
        CONSOLE,
        lambda h: start_trail(h, E1, staging, w.trail_name),
    )
    t = w.when(0.35, "20:15", NEWYORK)
    dan = f"dan.oconnor@{co}.example"
    ep(
        "atk-website-skimmer",
        f"A phished engineer session uploads a card skimmer into the "
        f"website bucket {web.name} (checkout JS and index.html) from the console.",
        dev_prod.arn,
        t,
        lambda t: dev_prod.get(dan, t),
        (ip(w.rng("skim"), "vps"), None),
        S3_CONSOLE,
        lambda h: (
            h.s3("ListObjects", web, query={"list-type": "2"}),
            h.s3("PutObject", web, key="assets/checkout.7c2e91.js", size=48211),
            h.s3("PutObject", web, key="index.html", size=18322),
        ),
        "attack",
        ("C30",),
    )
    t = w.when(0.7, "13:00")
    agents = (PYTHON_REQUESTS, CURL, WGET)
    ep(
        "atk-leaked-presigned-url",
        "A week-long presigned export URL posted publicly, fetched "
        "1,200 times from hundreds of addresses.",
        api_role.arn,
        t,
        api_role.get(sess, t),
        (vps[3], None),
        CURL,
        lambda h: presigned_abuse(
            h, exp, api_role.get(sess, t - 3600), 1200, ips(w.rng("leak"), "vps", 300), agents
        ),
        "attack",
        ("C31",),
    )
    ep(
        "atk-trufflehog-ci-key",
        "The CircleCI key leaked in a public repository: TruffleHog "
        "verifies it, then lists buckets.",
        circle_user.principal,
        w.when(0.12, "05:05"),
        circle_user,
        (vps[4], None),
        TRUFFLEHOG,
        lambda h: (
            h.api("sts", "GetCallerIdentity"),
            h.wait(60, 600),
            h.api("s3", "ListBuckets", params={"Host": "s3.amazonaws.com"}),
        ),
        "attack",
        ("C13",),
    )
    guesses = [
        f"{co}-{x}"
        for x in (
            "backup",
            "backups",
            "prod",
            "data",
            "logs",
            "dev",
            "staging",
            "assets",
            "private",
            "internal",
            "secrets",
            "terraform",
            "db",
            "dumps",
            "exports",
            "reports",
            "tmp",
            "archive",
            "media",
            "uploads",
        )
    ]
    guesses += [f"{g}-{s}" for g in guesses[:12] for s in ("1", "2024", "old", "bak")]
    ep(
        "atk-access-denied-storm",
        "The same leaked CircleCI key from a Kali host: guesses bucket "
        "names (NoSuchBucket) and is refused on the prod buckets.",
        circle_user.principal,
        w.when(0.25, "02:10"),
        circle_user,
        (vps[5], None),
        KALI_CLI,
        lambda h: denied_storm(h, guesses, [uploads, exports, backups, appcfg, web], E1),
        "attack",
        ("C18", "C13"),
    )
    t = w.when(0.5, "03:15", BERLIN)
    mira = f"mira.schulz@{co}.example"

    def blind_selectors(h: Hand) -> None:
        narrow_selectors(h, E1, prod, w.trail_name, exports, advanced=True)
        h.wait(2 * HOUR, 3 * HOUR)
        h.list(exp)
        h.read(exp, 400, (1, 6))

    h = ep(
        "atk-event-selectors",
        f"An admin session from a new host narrows the prod trail's "
        f"advanced event selectors to writes, excluding {exports.name}, then reads 400 "
        "exports (seen only in the access log).",
        admin_prod.arn,
        t,
        lambda t: admin_prod.get(mira, t),
        (vps[6], None),
        awscli("cloudtrail.put-event-selectors"),
        blind_selectors,
        "attack",
        ("C02", "C09"),
    )
    sel_t = h.calls[1].t
    w.data_mutes.append((exports.name, sel_t + 1, w.end, True))
    t = w.when(0.82, "22:45")
    sec_admin = sso(w, security, "AdministratorAccess")
    h = ep(
        "atk-trail-bucket-lifecycle",
        f"A lifecycle rule on the CloudTrail bucket {trail.name} "
        "that expires every log file after one day (S3 then expires them).",
        sec_admin.arn,
        t,
        lambda t: sec_admin.get(mira, t),
        (vps[6], None),
        awscli("s3api.put-bucket-lifecycle"),
        lambda h: short_expiry(h, trail, 1),
        "attack",
        ("C03",),
    )
    w.expiries.append(Expiry(trail.name, "AWSLogs/", 1, t + DAY, "atk-trail-bucket-lifecycle"))
    t = w.when(0.92, "16:30", NEWYORK)
    alex = sup_email
    pubs = ips(w.rng("pub"), "vps", 40)

    def expose(h: Hand) -> None:
        make_public(h, exports, "policy")
        h.wait(1800, 3600)
        anon = Hand(w, h.rng, ANONYMOUS, (pubs[0], None), CURL, h.t)
        anonymous_reads(anon, exp, 120, pubs, (CURL, WGET, PYTHON_REQUESTS))
        h.calls += anon.calls

    ep(
        "atk-public-exports",
        f"A support session from an unknown host removes Block Public Access "
        f"and adds a public-read policy on {exports.name}; anonymous downloads follow.",
        support.arn,
        t,
        lambda t: support.get(alex, t),
        (vps[7], None),
        S3_CONSOLE,
        expose,
        "attack",
        ("C06", "C08", "C19"),
    )
    t = w.when(0.55, "21:30")
    ep(
        "atk-backup-recovery-off",
        f"Versioning suspended, lifecycle and replication deleted on "
        f"{backups.name}, then 300 dumps deleted by version id.",
        admin_prod.arn,
        t,
        lambda t: admin_prod.get(mira, t),
        (vps[6], None),
        awscli("s3api.delete-object"),
        lambda h: (
            recovery_off(h, backups, ("versioning", "lifecycle", "replication")),
            mass_delete(h, dumps, 30, versions=True),
        ),
        "attack",
        ("C05", "C20"),
    )
    tor = ips(w.rng("tor"), "tor", 3)
    eu_sess = Rng("eutask", seed, 0, 0).hexl(32)
    ep(
        "atk-threat-intel-reader",
        f"EU API task credentials used from Tor exit nodes to read {eu_uploads.name}.",
        api_role.arn,
        w.when(0.65, "03:00"),
        lambda t: api_role.get(eu_sess, t),
        (tor[0], None),
        PYTHON_REQUESTS,
        lambda h: [h.using(origin=(x, None)).read(eu_up, 70, (1, 10)) for x in tor],
        "attack",
        ("C16", "C12", "C14"),
    )

    def foreign_vpce(h: Hand) -> None:
        vpce_denied(h, uploads, v_e1, evil, 25, private(h.rng, "10.0.2"))
        foreign_via_endpoint(h, up, v_e1, evil, 12, private(h.rng, "10.0.2"))
        h.using(origin=(private(h.rng, "10.99.4"), w.vpce["attacker"]))
        h.read(up, 200, (1, 8))

    ep(
        "atk-foreign-endpoint",
        f"From a pod in our VPC, requests of account {evil} through our "
        "endpoint are denied by its policy (VpceAccessDenied); then the worker role's "
        f"credentials read uploads through an endpoint owned by account {evil}.",
        worker_role.arn,
        w.when(0.38, "11:20"),
        lambda t: worker_role.get(wk[0], t),
        (wk[1], v_e1),
        boto3(" exec-env/AWS_ECS_FARGATE"),
        foreign_vpce,
        "attack",
        ("C14",),
    )
    ep(
        "atk-worker-overwrite",
        f"A compromised worker overwrites 2,500 previews in {uploads.name} within half an hour.",
        worker_role.arn,
        w.when(0.86, "02:00"),
        lambda t: worker_role.get(wk[0], t),
        (wk[1], v_e1),
        boto3(" exec-env/AWS_ECS_FARGATE"),
        lambda h: h.write(previews, 2500, (0, 1), overwrite=True),
        "attack",
        ("C22",),
    )

    def rare(h: Hand) -> None:
        h.s3("GetBucketPolicy", uploads, size=900)
        h.s3("ListObjectVersions", uploads, query={"versions": "", "prefix": "org/"}, size=60000)
        for _ in range(30):
            h.s3(
                "GetObject",
                uploads,
                key=up.pick(h.rng),
                version=h.rng.alnum(32),
                size=up.size_of(h.rng),
            )
            h.wait(2, 20)

    ep(
        "atk-worker-rare-api",
        "The worker role lists object versions and reads old versions "
        "(deleted customer files), operations it never uses.",
        worker_role.arn,
        w.when(0.76, "10:00"),
        lambda t: worker_role.get(wk[0], t),
        (wk[1], v_e1),
        boto3(" exec-env/AWS_ECS_FARGATE"),
        rare,
        "attack",
        ("C29",),
    )
    return w
