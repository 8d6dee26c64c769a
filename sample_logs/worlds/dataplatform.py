"""The ``dataplatform`` style: a data lake in Oregon (Pacific time), growing every day.

Firehose lands events around the clock; a Lambda moves them into the raw zone; Glue jobs run
every night (reading raw with ranged GETs, writing curated) and rebuild everything on Sunday
(ten times the nightly volume); EMR clusters build features on Saturday; Airflow sensors
poll every minute; analysts query through Athena (which reads and writes S3 in their name);
a reporting instance behind NAT uses the public endpoint (its NAT address changes mid-period);
CI deploys Glue scripts and, mid-period, a new job role; a partner drops files cross-account;
BI extracts go to partners as presigned URLs; an engineer backfills years of history once.
"""

from __future__ import annotations

from aws import ANONYMOUS, DAY, HOUR, Agent, Bucket, Call, Rng, iam_user, invoked_by
from behaviour import Habit, Human, Job, Workload, athena_query, daily
from clients import (
    AIRFLOW,
    CONSOLE,
    CURL,
    DBEAVER,
    EMRFS,
    FIREHOSE,
    GLUE,
    LAMBDA_PY,
    PYTHON_REQUESTS,
    S3_CONSOLE,
    TRUFFLEHOG,
    WGET,
    awscli,
    boto3,
)
from hand import Hand, expire_rule, lifecycle, logging_status
from intrusions import (
    anonymous_reads,
    blind,
    copy_out,
    delete_trail,
    denied_storm,
    discovery,
    foreign_via_endpoint,
    grant_foreign,
    logging_off,
    make_public,
    mass_delete,
    narrow_selectors,
    presigned_abuse,
    public_object_acls,
    ransom_note,
    recovery_off,
    reencrypt,
    short_expiry,
    vpce_denied,
)
from net import ip, ips, private
from services import CredentialRefresh, analyzer_reads, config_reads, triage
from world import (
    LOCAL_DIURNAL,
    Expiry,
    Prefix,
    Sessions,
    World,
    account_id,
    add_bucket,
    hours,
    instance_id,
    pool,
    shift,
    sso,
    weekday,
)

NAMES = ("tidelake", "streamfold", "datagrove", "okapi-analytics", "quarry-io")
DEFAULT_START = "2026-02-02"  # a Monday, before daylight saving starts
PACIFIC = -8.0
W2, E1 = "us-west-2", "us-east-1"
WEEKDAYS = (1, 1, 1, 1, 1, 0.1, 0.05)


def is_weekday(w: World, t: int, wd: int) -> bool:
    return weekday(t, PACIFIC) == wd


def build(seed: int, start: int, days: int, scale: float) -> World:
    co = NAMES[seed % len(NAMES)]
    w = World("dataplatform", seed, start, days, scale, co, {"pacific": PACIFIC})
    r = w.rng("build")
    lake, ingest, analytics, platform = (
        account_id("dataplatform", seed, n) for n in ("lake", "ingest", "analytics", "platform")
    )
    partner, evil = (
        account_id("dataplatform", seed, "partner"),
        account_id("dataplatform", seed, "x"),
    )
    w.accounts = {
        lake: "lake-prod",
        ingest: "ingest",
        analytics: "analytics",
        platform: "platform-shared",
    }
    w.partners = {partner: "data partner (drops files, sanctioned)"}
    w.foreign = {evil: "attacker"}
    w.trail_name = f"{co}-account-trail"
    w.trail_all_buckets = {lake: "write", analytics: "write"}
    w.vpce = {
        "lake": (f"vpce-0{r.hexl(16)}", lake),
        "ingest": (f"vpce-0{r.hexl(16)}", ingest),
        "analytics": (f"vpce-0{r.hexl(16)}", analytics),
        "evil": (f"vpce-0{r.hexl(16)}", evil),
    }
    v_lake = w.vpce["lake"]

    B = add_bucket
    landing = B(w, f"{co}-landing", ingest, W2, access_logs=True)
    pdrop = B(w, f"{co}-partner-drop", ingest, W2, data_events="write", access_logs=True)
    raw = B(w, f"{co}-lake-raw", lake, W2, data_events="write", access_logs=True, versioned=True)
    cur = B(
        w,
        f"{co}-lake-curated",
        lake,
        W2,
        data_events="all",
        access_logs=True,
        kms=True,
        versioned=True,
    )
    feat = B(w, f"{co}-lake-features", lake, W2, data_events="write", access_logs=True)
    results = B(w, f"{co}-athena-results", lake, W2, access_logs=True)
    B(w, f"{co}-emr-logs", lake, W2)
    scripts = B(w, f"{co}-glue-scripts", lake, W2, data_events="all")
    models = B(w, f"{co}-ml-models", lake, W2, data_events="all", access_logs=True)
    archive = B(w, f"{co}-lake-archive", lake, W2, data_events="write", access_logs=True)
    sandbox = B(w, f"{co}-analyst-sandbox", analytics, W2, access_logs=True)
    extracts = B(w, f"{co}-bi-extracts", analytics, W2, data_events="all", access_logs=True)
    trail = B(w, f"{co}-audit-trail", platform, W2)
    al_bucket = B(w, f"{co}-s3-access-logs", platform, W2)
    ci = B(w, f"{co}-ci-artifacts", platform, W2, access_logs=True)
    w.trail_bucket = trail
    loot = Bucket(f"ml-dataset-mirror-{r.hexl(6)}", evil, E1)
    ours = list(w.buckets.values())

    P = lambda b, tpl, size, n: pool(r, Prefix(b, tpl, size), start, n)  # noqa: E731
    land = P(landing, "events/{ymd}/{hh}/events-stream-1-{ts}-{uuid}", 5_000_000, 400)
    drop = P(pdrop, "inbound/{date}/partner_accounts_{n}.csv.gz", 20_000_000, 60)
    rawp = P(raw, "events/dt={date}/hour={hh}/part-{h8}.json.gz", 5_000_000, 900)
    curp = P(cur, "events/dt={date}/part-{n:05d}-{uuid}.c000.snappy.parquet", 60_000_000, 900)
    dims = P(cur, "dims/customers/part-{n:05d}.snappy.parquet", 30_000_000, 120)
    featp = P(feat, "features/v7/dt={date}/part-{n:05d}.parquet", 40_000_000, 500)
    res = P(results, "queries/{uuid}.csv", 1_000_000, 200)
    tmp = P(results, "tmp/{date}/{uuid}.csv", 2_000_000, 0)
    code = Prefix(
        scripts,
        "jobs/{n}.py",
        20_000,
        [
            "jobs/raw_to_curated.py",
            "jobs/customer_dims.py",
            "jobs/sessionize.py",
            "connections/redshift.properties",
            "connections/partner-sftp.env",
            "keys/partner-sftp.pem",
            "libs/common-2.4.1.zip",
        ],
    )
    mdl = P(models, "churn/v{n}/model.tar.gz", 300_000_000, 40)
    arch = Prefix(archive, "history/year={n}/part-{h8}.parquet", 80_000_000, [])
    sand = P(sandbox, "users/{u}/{name}", 3_000_000, 200)
    ext = P(extracts, "partners/{u}/extract-{date}.csv.gz", 30_000_000, 80)
    H = Habit

    # ---- ingestion: Firehose (invokedBy firehose) and a mover Lambda, growing every day
    fh_role = Sessions(ingest, "firehose-delivery-role", HOUR)
    fh = Workload(
        "firehose-delivery",
        lambda s, t: invoked_by(fh_role.get(s, t), "firehose.amazonaws.com"),
        [("AWSFirehoseToS3", "firehose.amazonaws.com")],
        FIREHOSE,
        [H(95, "PutObject", land), H(5, "HeadObject", land)],
        2000,
        [1.0] * 24,
        growth=0.03,
        region=W2,
    )
    mover_role = Sessions(ingest, "landing-mover-lambda", 4 * HOUR)
    mover = Workload(
        "landing-mover",
        mover_role.get,
        [("landing-mover", x) for x in ips(r, "aws:us-west-2", 4)],
        LAMBDA_PY,
        [H(48, "GetObject", land), H(48, "PutObject", rawp), H(4, "List", land)],
        1800,
        [1.0] * 24,
        growth=0.03,
        region=W2,
    )

    # ---- Glue nightly ETL and the Sunday rebuild (10x)
    glue_role = Sessions(lake, "glue-etl-job", 2 * HOUR)
    glue_hosts = [("GlueJobRunnerSession", private(r, "10.30.8")) for _ in range(6)]
    night = shift(hours({range(1, 4): 1.0, 4: 0.4}, 0.0), PACIFIC)
    glue = Workload(
        "glue-etl",
        glue_role.get,
        glue_hosts,
        GLUE,
        [
            H(40, "Range", rawp),
            H(10, "HeadObject", rawp),
            H(8, "List", rawp),
            H(25, "PutObject", curp),
            H(5, "Multipart", curp),
            H(8, "GetObject", dims),
            H(4, "DeleteObject", curp),
            H(0.4, "PutObject", curp, error="SlowDown"),
        ],
        4000,
        night,
        vpce=v_lake,
        growth=0.02,
        region=W2,
    )
    for d in range(days):
        t = w.at(d, "01:00", PACIFIC)
        if is_weekday(w, t, 6):
            glue.boost.append((t, t + 4 * HOUR, 10.0))
    emr_role = Sessions(lake, "EMR_EC2_DefaultRole", 6 * HOUR, ec2=True)

    def emr_hosts(day: int) -> list[tuple[str, str]]:
        week = day // 7
        return [
            (
                instance_id(Rng("emr", seed, week, i)),
                private(Rng("emr-ip", seed, week, i), "10.30.12"),
            )
            for i in range(5)
        ]

    emr = Workload(
        "emr-features",
        emr_role.get,
        [],
        EMRFS,
        [
            H(50, "Range", curp),
            H(10, "List", curp),
            H(35, "PutObject", featp),
            H(5, "HeadObject", featp),
        ],
        0,
        [1.0] * 24,
        vpce=v_lake,
        region=W2,
        host_fn=emr_hosts,
    )
    for d in range(days):
        t = w.at(d, "20:00", PACIFIC)
        if is_weekday(w, t, 5):
            emr.boost.append((t, t + 3 * HOUR, 1.0 + 2500 * 24 / 3))
    emr.per_day = 1  # boosts carry its volume
    airflow_role = Sessions(lake, "airflow-execution-role", HOUR)
    airflow = Workload(
        "airflow-sensors",
        airflow_role.get,
        [("AmazonMWAA-airflow", private(r, "10.30.4")) for _ in range(2)],
        AIRFLOW,
        [
            H(60, "HeadObject", rawp),
            H(25, "List", rawp),
            H(10, "HeadObject", curp),
            H(5, "List", curp),
        ],
        2500,
        [1.0] * 24,
        vpce=v_lake,
        region=W2,
        upgrades=[
            (
                w.when(0.5, "17:00"),
                Agent(
                    AIRFLOW.ua.replace("Airflow/2.9.2 AmPP/8.25.0", "Airflow/2.10.1 AmPP/8.28.0")
                ),
            )
        ],
    )
    rep_role = Sessions(lake, "reporting-ec2", 6 * HOUR, ec2=True)
    rep_iid = instance_id(r)
    nat_old, nat_new = ip(r, "aws:us-west-2"), ip(r, "aws:us-west-2")
    nat_change = w.when(0.5, "18:30")
    reporting = Workload(
        "reporting-ec2",
        rep_role.get,
        [(rep_iid, nat_old)],
        boto3(),
        [
            H(60, "GetObject", curp),
            H(20, "GetObject", dims),
            H(15, "PutObject", ext),
            H(5, "List", curp),
        ],
        500,
        shift(hours({range(5, 8): 1.0}, 0.05), PACIFIC),
        region=W2,
        moves=[(nat_change, [(rep_iid, nat_new)])],
    )
    sm_role = Sessions(lake, "sagemaker-training", 2 * HOUR)
    sm = Workload(
        "sagemaker-training",
        sm_role.get,
        [("SageMaker", ip(r, "aws:us-west-2"))],
        boto3(" exec-env/AWS_SageMaker"),
        [H(70, "Range", featp), H(20, "List", featp), H(10, "PutObject", mdl)],
        0,
        [1.0] * 24,
        region=W2,
    )
    for d in range(days):
        t = w.at(d, "03:00", PACIFIC)
        if is_weekday(w, t, 2):
            sm.boost.append((t, t + 2 * HOUR, 1.0 + 600 * 12))
    sm.per_day = 1
    bi_role = Sessions(analytics, "bi-exporter-lambda", 4 * HOUR)
    bi = Workload(
        "bi-exporter",
        bi_role.get,
        [("bi-exporter", ip(r, "aws:us-west-2"))],
        LAMBDA_PY,
        [H(30, "PutObject", ext), H(50, "Presign", ext), H(20, "GetObject", dims)],
        260,
        shift(LOCAL_DIURNAL, PACIFIC),
        region=W2,
        weekdays=WEEKDAYS,
    )
    partner_role = Sessions(partner, "sftp-bridge", HOUR)
    partner_ip = ips(w.rng("partner"), "aws:us-east-1", 2)
    pdrop_w = Workload(
        "partner drop",
        partner_role.get,
        [("sftp-bridge", x) for x in partner_ip],
        boto3(os_="linux#4.14.336-256.559.amzn2.x86_64"),
        [H(70, "PutObject", drop), H(30, "HeadObject", drop)],
        80,
        hours({range(12, 15): 1.0}, 0.02),
        region=W2,
    )
    consumer = Workload(
        "partner-drop consumer",
        mover_role.get,
        [("landing-mover", ip(r, "aws:us-west-2"))],
        LAMBDA_PY,
        [H(70, "GetObject", drop), H(30, "List", drop)],
        100,
        hours({range(13, 16): 1.0}, 0.02),
        region=W2,
    )

    # ---- people: analysts through Athena, engineers
    analyst = sso(w, analytics, "DataAnalyst")
    eng = sso(w, lake, "DataEngineer")
    admin = sso(w, lake, "AdministratorAccess")
    sec = sso(w, platform, "SecurityAudit")
    homes = {
        n: ips(w.rng("home", n), c, 2)
        for n, c in (
            ("maya", "sanfrancisco"),
            ("ravi", "sanfrancisco"),
            ("chen", "seattle"),
            ("sofia", "seattle"),
            ("tom", "sanfrancisco"),
            ("ines", "seattle"),
            ("arjun", "bangalore"),
            ("kate", "seattle"),
            ("leo", "sanfrancisco"),
        )
    }
    people: list[Human] = []
    for n in ("maya", "ravi", "chen", "sofia", "tom", "ines"):
        people.append(
            Human(
                f"{n} (analyst)",
                analyst.get,
                f"{n}@{co}.io",
                PACIFIC,
                homes[n],
                [
                    H(10, "Athena", curp, DBEAVER, params={"results": res}),
                    H(3, "Athena", dims, CONSOLE, params={"results": res}),
                    H(2, "GetObject", res, awscli("s3.cp")),
                    H(2, "PutObject", sand, awscli("s3.cp")),
                    H(1, "Browse", sand, S3_CONSOLE),
                    H(0.2, "List", code, awscli("s3.ls"), error="AccessDenied"),
                ],
                DBEAVER,
                sessions_per_day=2.0,
                actions=(5, 20),
                region=W2,
            )
        )
    for n, tz in (("arjun", 5.5), ("kate", PACIFIC), ("leo", PACIFIC)):
        people.append(
            Human(
                f"{n} (engineer)",
                eng.get,
                f"{n}@{co}.io",
                tz,
                homes[n],
                [
                    H(4, "List", rawp, awscli("s3.ls")),
                    H(3, "GetObject", rawp, awscli("s3.cp")),
                    H(3, "api:glue:GetJobRuns", agent=CONSOLE, region=W2),
                    H(2, "api:glue:StartJobRun", agent=CONSOLE, region=W2),
                    H(2, "api:emr:ListClusters", agent=CONSOLE, region=W2),
                    H(2, "Browse", curp, S3_CONSOLE),
                    H(1, "GetObject", code, awscli("s3.cp")),
                    H(1, "api:logs:GetLogEvents", agent=CONSOLE, region=W2),
                ],
                CONSOLE,
                sessions_per_day=1.3,
                region=W2,
            )
        )
    people.append(
        Human(
            "nadia (security)",
            sec.get,
            f"nadia@{co}.io",
            PACIFIC,
            ips(w.rng("home", "nadia"), "seattle", 2),
            [
                H(3, "api:securityhub:GetFindings", agent=CONSOLE, region=W2),
                H(2, "api:guardduty:ListFindings", agent=CONSOLE, region=W2),
                H(1, "api:cloudtrail:LookupEvents", agent=CONSOLE, region=W2),
            ],
            CONSOLE,
            sessions_per_day=0.8,
            region=W2,
        )
    )

    # ---- CI: deploys Glue scripts; creates a new job role mid-period
    gha = ips(r, "github", 8)
    ci_role = Sessions(
        platform,
        "gha-data-deploy",
        HOUR,
        web_identity=f"arn:aws:iam::{platform}:oidc-provider/token.actions.githubusercontent.com",
    )
    lake_ci = Sessions(
        lake,
        "gha-data-deploy",
        HOUR,
        web_identity=f"arn:aws:iam::{lake}:oidc-provider/token.actions.githubusercontent.com",
    )
    w.ci_roles = [ci_role.arn, lake_ci.arn]

    def ci_deploy(w: World, rng: Rng, t: int) -> list[Call]:
        h = Hand(
            w,
            rng,
            lambda t: ci_role.get("GitHubActions", t),
            (rng.choice(gha), None),
            awscli("s3.cp", os_="linux#6.5.0-1022-azure", arch="x86_64"),
            t,
        )
        h.s3("PutObject", ci, key=f"glue/{rng.hexl(8)}/bundle.zip", size=5_000_000)
        h2 = Hand(w, rng, lambda t: lake_ci.get("GitHubActions", h.t), h.origin, h.agent, h.t)
        for k in code.pool[:3]:
            h2.s3("PutObject", scripts, key=k, size=rng.randrange(4000, 40000))
        h2.api(
            "glue", "UpdateJob", W2, {"jobName": "raw_to_curated", "jobUpdate": {}}, read_only=False
        )
        return h.calls + h2.calls

    deploys = Job(
        "glue deploy", daily("10:30", PACIFIC, days=(0, 1, 2, 3, 4), jitter=5 * HOUR), ci_deploy
    )
    aws_config = Job(
        "aws-config",
        lambda w, d: [w.day0(d) + k * 6 * HOUR + 600 for k in range(4)],
        lambda w, rng, t: [c for a in w.accounts for c in config_reads(w, rng, t, a, ours)],
    )
    analyzer = Job(
        "access-analyzer",
        daily("05:00", 0, jitter=3600),
        lambda w, rng, t: [c for a in w.accounts for c in analyzer_reads(w, rng, t, a, ours)],
    )
    refresh = CredentialRefresh(
        "glue credentials",
        glue_role.arn,
        lambda day: ["GlueJobRunnerSession"],
        "glue",
        W2,
        2 * HOUR,
    )
    w.expiries.append(Expiry(results.name, "queries/", 7, start))
    w.actors = [
        fh,
        mover,
        glue,
        emr,
        airflow,
        reporting,
        sm,
        bi,
        pdrop_w,
        consumer,
        *people,
        deploys,
        aws_config,
        analyzer,
        refresh,
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
        "trap-first-hour", "trap", [], "The first hour of data: everybody is new.", None
    )
    for a in w.actors:
        w.overlay(first, a.name, start, start + HOUR)
    sun = w.weekday_day(0.4, 6, PACIFIC)
    over(
        "trap-weekly-rebuild",
        "The Sunday full rebuild: Glue reads and writes ten times the nightly volume.",
        glue_role.arn,
        glue.name,
        w.at(sun, "01:00", PACIFIC),
        w.at(sun, "05:00", PACIFIC),
    )
    over(
        "trap-nat-egress-change",
        "The reporting instance's NAT gateway is replaced: a new "
        "public egress IP from now on (public endpoint, instance credentials).",
        rep_role.arn,
        reporting.name,
        nat_change,
        nat_change + 24 * HOUR,
    )
    new_t = w.when(0.55, "11:00", PACIFIC)
    new_role = Sessions(lake, "glue-marketing-attribution", 2 * HOUR)

    def create_role(h: Hand) -> None:
        h.api(
            "iam",
            "CreateRole",
            E1,
            {
                "roleName": new_role.role,
                "path": "/",
                "assumeRolePolicyDocument": '{"Statement":[{"Principal":{"Service":'
                '"glue.amazonaws.com"}}]}',
            },
            read_only=False,
        )
        h.api(
            "iam",
            "AttachRolePolicy",
            E1,
            {
                "roleName": new_role.role,
                "policyArn": f"arn:aws:iam::{lake}:policy/lake-read-curated",
            },
            read_only=False,
        )
        h.api(
            "glue",
            "CreateJob",
            W2,
            {"name": "marketing_attribution", "role": new_role.arn},
            read_only=False,
        )

    ep(
        "trap-ci-creates-role",
        "CI creates the new Glue job role and job.",
        lake_ci.arn,
        new_t - 1200,
        lambda t: lake_ci.get("GitHubActions", t),
        (gha[0], None),
        awscli("iam.create-role", os_="linux#6.5.0-1022-azure", arch="x86_64"),
        create_role,
    )
    newjob = Workload(
        "glue-marketing-attribution",
        new_role.get,
        [("GlueJobRunnerSession", private(r, "10.30.8"))],
        GLUE,
        [H(60, "Range", curp), H(20, "GetObject", dims), H(20, "PutObject", featp)],
        900,
        shift(hours({range(2, 5): 1.0}, 0.3), PACIFIC),
        vpce=v_lake,
        first=new_t,
        region=W2,
    )
    w.actors.append(newjob)
    over(
        "trap-new-ci-role",
        "The new Glue job role's first hours of reads and writes.",
        new_role.arn,
        newjob.name,
        new_t,
        new_t + 8 * HOUR,
    )
    kate = f"kate@{co}.io"

    def backfill(h: Hand) -> None:
        for _ in range(int(5000 * min(1.0, max(w.scale, 0.2)))):
            arch.pool.append(arch.new_key(h.rng, h.t))
            h.s3("PutObject", archive, key=arch.pool[-1], size=arch.size_of(h.rng))
            h.wait(0, 2)

    ep(
        "trap-historical-backfill",
        f"An engineer uploads years of historical data into "
        f"{archive.name} with aws s3 cp --recursive, once.",
        eng.arn,
        w.when(0.3, "13:00", PACIFIC),
        lambda t: eng.get(kate, t),
        (homes["kate"][0], None),
        awscli("s3.cp"),
        backfill,
    )

    def athena_public(h: Hand) -> None:
        for _ in range(8):
            calls = athena_query(h.t, h.who(), h.origin, h.agent, curp, res, h.rng, W2)
            for c in calls:
                if c.ip == "athena.amazonaws.com":
                    c.ip = ip(h.rng, "aws:us-west-2")
            h.calls += calls
            h.wait(60, 300)

    ep(
        "trap-athena-from-instance",
        "The reporting instance role runs Athena queries: Athena "
        "reads curated data for it (invokedBy athena.amazonaws.com) from AWS public addresses.",
        rep_role.arn,
        w.when(0.25, "07:00", PACIFIC),
        lambda t: rep_role.get(rep_iid, t),
        (nat_old, None),
        boto3(),
        athena_public,
    )
    ep(
        "trap-log-bucket-lifecycle-disabled",
        "Terraform adds a Disabled rule and a 1-year expiry "
        f"to the access-log bucket {al_bucket.name}.",
        admin.arn,
        w.when(0.2, "10:00", PACIFIC),
        lambda t: admin.get(f"leo@{co}.io", t),
        (homes["leo"][0], None),
        awscli("s3api.put"),
        lambda h: h.s3(
            "PutBucketLifecycle",
            al_bucket,
            params=lifecycle(
                [
                    expire_rule("retain-1y", "", 365),
                    expire_rule("drop-debug", "debug/", 1, "Disabled"),
                ]
            ),
        ),
    )
    tmp_t = w.when(0.35, "09:00", PACIFIC)
    tmp_s = w.scenario(
        "trap-results-tmp-expiry",
        "trap",
        [],
        f"A 1-day expiry on tmp/ of {results.name} (scratch query output); S3 expires the files.",
        eng.arn,
    )
    h = Hand(
        w,
        w.rng("tmp"),
        lambda t: eng.get(f"leo@{co}.io", t),
        (homes["leo"][0], None),
        awscli("s3api.put-bucket-lifecycle-configuration"),
        tmp_t,
    )
    short_expiry(h, results, 1, "tmp/")
    for _ in range(int(300 * max(w.scale, 0.2))):
        h.s3("PutObject", results, key=tmp.new_key(h.rng, h.t), size=2_000_000)
        h.wait(10, 90)
    w.episode(tmp_s, h.calls)
    w.expiries.append(Expiry(results.name, "tmp/", 1, tmp_t + DAY, tmp_s.id))

    def oncall(h: Hand) -> None:
        h.api("glue", "GetJobRuns", W2, {"jobName": "raw_to_curated"})
        h.api("logs", "GetLogEvents", W2, {"logGroupName": "/aws-glue/jobs/error"})
        h.list(rawp)
        h.read(rawp, 15, (5, 40))
        h.api("glue", "StartJobRun", W2, {"jobName": "raw_to_curated"}, read_only=False)

    ep(
        "trap-oncall-night",
        "The on-call engineer restarts a failed Glue job at 02:15.",
        eng.arn,
        w.when(0.65, "02:15", PACIFIC),
        lambda t: eng.get(f"leo@{co}.io", t),
        (homes["leo"][1], None),
        awscli("glue.start-job-run"),
        oncall,
    )
    d = w.scenario_day(0.7)
    over(
        "trap-partner-drop",
        "The data partner drops files into our bucket from its own account, as every day.",
        partner_role.arn,
        pdrop_w.name,
        w.day0(d),
        w.day0(d) + DAY,
    )
    qe = w.when(0.85, "09:00", PACIFIC)
    over(
        "trap-quarter-end-reporting",
        "Quarter end: the reporting instance reads five times its usual volume.",
        rep_role.arn,
        reporting.name,
        qe,
        qe + 10 * HOUR,
    )
    reporting.boost.append((qe, qe + 10 * HOUR, 5.0))
    sat = w.weekday_day(0.6, 5, PACIFIC)
    over(
        "trap-emr-weekly",
        "The Saturday EMR cluster (new instance ids every week) builds features.",
        emr_role.arn,
        emr.name,
        w.at(sat, "20:00", PACIFIC),
        w.at(sat, "23:00", PACIFIC),
    )

    def new_dag(h: Hand) -> None:
        for _ in range(120):
            h.s3("HeadObject", feat, key=featp.pick(h.rng))
            h.wait(30, 90)

    ep(
        "trap-airflow-new-dag",
        f"A new Airflow DAG polls {feat.name}, a bucket the sensors never touched before.",
        airflow_role.arn,
        w.when(0.45, "08:00", PACIFIC),
        lambda t: airflow_role.get("AmazonMWAA-airflow", t),
        (private(r, "10.30.4"), v_lake),
        AIRFLOW,
        new_dag,
    )
    ep(
        "trap-securityhub-triage",
        "The security engineer resolves and acknowledges findings.",
        sec.arn,
        w.when(0.5, "14:00", PACIFIC),
        lambda t: sec.get(f"nadia@{co}.io", t),
        (ip(w.rng("n"), "seattle"), None),
        CONSOLE,
        lambda h: (
            triage(h, platform, W2, "RESOLVED", "false positive: EMR egress"),
            triage(h, platform, W2, "NOTIFIED", "assigned to data eng"),
        ),
    )
    d = w.scenario_day(0.9)
    over(
        "trap-config-reads",
        "AWS Config reads every bucket's settings.",
        None,
        aws_config.name,
        w.day0(d),
        w.day0(d) + DAY,
    )
    fb = w.when(0.78, "10:00", PACIFIC)
    fh.boost.append((fb, fb + 2 * HOUR, 5.0))
    mover.boost.append((fb, fb + 2 * HOUR, 5.0))
    over(
        "trap-ingest-burst",
        "A product launch: five times the usual event volume lands for two hours.",
        fh_role.arn,
        fh.name,
        fb,
        fb + 2 * HOUR,
    )
    bb = w.when(0.62, "09:00", PACIFIC)
    bi.boost.append((bb, bb + 4 * HOUR, 4.0))
    over(
        "trap-bi-downloads",
        "Partners download four times the usual BI extracts (presigned "
        "URLs from their offices) after a release.",
        bi_role.arn,
        bi.name,
        bb,
        bb + 4 * HOUR,
    )
    d = w.weekday_day(0.75, 2, PACIFIC)
    over(
        "trap-sagemaker-weekly",
        "The weekly SageMaker training job reads the feature store.",
        sm_role.arn,
        sm.name,
        w.at(d, "03:00", PACIFIC),
        w.at(d, "05:00", PACIFIC),
    )
    gr = w.when(0.18, "13:00", PACIFIC)
    glue.boost.append((gr, gr + 3 * HOUR, 4.0))
    over(
        "trap-glue-manual-rerun",
        "An engineer re-runs the nightly Glue job for a month of "
        "late data in the afternoon: four times the nightly rate, outside its window.",
        glue_role.arn,
        glue.name,
        gr,
        gr + 3 * HOUR,
    )
    d = w.scenario_day(0.05)
    over(
        "trap-airflow-sensors",
        "Airflow sensors poll raw and curated prefixes every minute, "
        "all day (HeadObject/ListObjects), as always.",
        airflow_role.arn,
        airflow.name,
        w.day0(d),
        w.day0(d) + 6 * HOUR,
    )
    sarjun = ip(w.rng("travel"), "bangalore")
    ep(
        "trap-travel",
        "A data engineer works from Bangalore for a week: new network, usual work.",
        eng.arn,
        w.when(0.15, "10:00", 5.5),
        lambda t: eng.get(f"arjun@{co}.io", t),
        (sarjun, None),
        awscli("s3.ls"),
        lambda h: (h.list(rawp), h.read(rawp, 10, (30, 200))),
    )

    # ================================================================== attacks
    vps = ips(w.rng("vps"), "vps", 12)
    gh = glue_hosts[0]

    def slow(h: Hand) -> None:
        n = int(4000 * scale * 3 * 7 / 24 / 6)  # ~3x Glue's usual rate, spread over 7 hours
        step = 7 * HOUR / max(n, 1)
        for i in range(n):
            p = mdl if i % 8 == 0 else curp
            h.s3("GetObject", p.bucket, key=p.pick(h.rng), size=p.size_of(h.rng))
            h.wait(int(step * 0.5), int(step * 1.5))

    ep(
        "atk-slow-exfil-glue",
        f"The Glue role (its usual session name, network and endpoint) "
        f"reads curated data and, new for it, {models.name} at about three times its usual rate "
        "for seven hours in the afternoon, outside its nightly window.",
        glue_role.arn,
        w.when(0.3, "12:00", PACIFIC),
        lambda t: glue_role.get(gh[0], t),
        (gh[1], v_lake),
        GLUE,
        slow,
        "attack",
        ("C09", "C11", "C28"),
    )
    emr_iid = instance_id(w.rng("emr-atk"), mixed=True)

    def emr_exfil(h: Hand) -> None:
        h.api("sts", "GetCallerIdentity")
        h.read(curp, 1500, (0, 1), list_every=60)
        copy_out(h, curp, loot, 400)

    ep(
        "atk-emr-instance-credentials",
        f"EMR instance credentials (session {emr_iid}) used from a "
        f"VPS: a crawl of curated data and copies into {loot.name} (account {evil}).",
        emr_role.arn,
        w.when(0.5, "04:00"),
        lambda t: emr_role.get(emr_iid, t),
        (vps[0], None),
        boto3(os_="linux#6.1.0-18-amd64"),
        emr_exfil,
        "attack",
        ("C15", "C12", "C09", "C10", "C25"),
    )
    de_user = iam_user(lake, "de-legacy-cli")
    ep(
        "atk-trufflehog-key",
        "A data engineer's old access key leaks; TruffleHog verifies it and "
        "the finder lists buckets and their policies.",
        de_user.principal,
        w.when(0.12, "16:00"),
        de_user,
        (vps[1], None),
        TRUFFLEHOG,
        lambda h: (
            h.api("sts", "GetCallerIdentity"),
            h.wait(600, 3000),
            h.using(agent=boto3(os_="linux#6.1.0")),
            discovery(h, ours, whoami=False),
        ),
        "attack",
        ("C13", "C17"),
    )
    t = w.when(0.4, "23:00", PACIFIC)
    h = ep(
        "atk-advanced-selectors",
        f"An admin session from a VPS narrows the lake trail's "
        f"advanced event selectors so reads of {cur.name} are no longer recorded.",
        admin.arn,
        t,
        lambda t: admin.get(f"leo@{co}.io", t),
        (vps[2], None),
        awscli("cloudtrail.put-event-selectors"),
        lambda h: narrow_selectors(h, W2, lake, w.trail_name, cur, advanced=True),
        "attack",
        ("C02",),
    )
    w.data_mutes.append((cur.name, h.calls[-1].t + 1, w.end, True))
    ep(
        "atk-trail-bucket-lifecycle",
        f"A lifecycle rule expiring everything in the trail bucket {trail.name} after one day.",
        admin.arn,
        w.when(0.6, "22:00", PACIFIC),
        lambda t: admin.get(f"leo@{co}.io", t),
        (vps[2], None),
        awscli("s3api.put-bucket-lifecycle"),
        lambda h: short_expiry(h, trail, 1),
        "attack",
        ("C03",),
    )
    t = w.when(0.7, "01:30", PACIFIC)
    ing_admin = sso(w, ingest, "AdministratorAccess")
    h = ep(
        "atk-delete-ingest-trail",
        "The ingest account's trail deleted.",
        ing_admin.arn,
        t,
        lambda t: ing_admin.get(f"leo@{co}.io", t),
        (vps[3], None),
        awscli("cloudtrail.delete-trail"),
        lambda h: delete_trail(h, W2, ingest, w.trail_name),
        "attack",
        ("C01", "C27"),
    )
    gone = h.calls[-1].t
    back = gone + 14 * HOUR
    w.ct_mutes.append((ingest, gone + 1, back))
    w.scenarios[-1].window = (t, back)
    ep(
        "trap-trail-recreated",
        "The platform team recreates the ingest trail.",
        ing_admin.arn,
        back,
        lambda t: ing_admin.get(f"kate@{co}.io", t),
        (homes["kate"][0], None),
        CONSOLE,
        lambda h: (
            h.api(
                "cloudtrail",
                "CreateTrail",
                W2,
                {"name": w.trail_name, "s3BucketName": trail.name, "isMultiRegionTrail": True},
                read_only=False,
            ),
            h.api("cloudtrail", "StartLogging", W2, {"name": w.trail_name}, read_only=False),
        ),
    )
    ep(
        "atk-curated-recovery-off",
        f"Lifecycle deleted, versioning suspended and default "
        f"encryption deleted on {cur.name} by one session.",
        admin.arn,
        w.when(0.55, "21:40", PACIFIC),
        lambda t: admin.get(f"leo@{co}.io", t),
        (vps[2], None),
        awscli("s3api.delete-bucket-encryption"),
        lambda h: recovery_off(h, cur, ("lifecycle", "versioning", "encryption")),
        "attack",
        ("C05",),
    )
    pubs = ips(w.rng("pub"), "vps", 25)

    def expose(h: Hand) -> None:
        make_public(h, models, "pab")
        make_public(h, models, "policy")
        public_object_acls(h, mdl, 12)
        anon = Hand(w, h.rng, ANONYMOUS, (pubs[0], None), CURL, h.t + HOUR)
        anonymous_reads(anon, mdl, 40, pubs, (CURL, WGET, PYTHON_REQUESTS))
        h.calls += anon.calls

    ep(
        "atk-models-public",
        f"Block Public Access off and a public-read policy on "
        f"{models.name}; the models are downloaded anonymously.",
        eng.arn,
        w.when(0.8, "17:00", PACIFIC),
        lambda t: eng.get(f"kate@{co}.io", t),
        (vps[4], None),
        S3_CONSOLE,
        expose,
        "attack",
        ("C06", "C19"),
    )
    ep(
        "atk-curated-foreign-grant",
        f"The Airflow role, which never changes policies, grants "
        f"account {evil} read access to {cur.name}.",
        airflow_role.arn,
        w.when(0.35, "03:30"),
        lambda t: airflow_role.get("AmazonMWAA-airflow", t),
        (glue_hosts[1][1], v_lake),
        AIRFLOW,
        lambda h: (
            h.s3("GetBucketPolicy", cur, size=1200),
            grant_foreign(h, cur, f"arn:aws:iam::{evil}:root"),
        ),
        "attack",
        ("C07", "C08", "C29"),
    )
    ep(
        "atk-raw-mass-delete",
        f"5,000 raw objects deleted in DeleteObjects batches from "
        f"{raw.name}, then 200 versions for good.",
        eng.arn,
        w.when(0.9, "00:30", PACIFIC),
        lambda t: eng.get(f"arjun@{co}.io", t),
        (vps[5], None),
        boto3(os_="linux#6.1.0"),
        lambda h: (mass_delete(h, rawp, 5000), mass_delete(h, rawp, 200, versions=True)),
        "attack",
        ("C20",),
    )

    def ransom(h: Hand) -> None:
        h.read(featp, 600, (0, 1), list_every=50)
        h.wait(300, 900)
        reencrypt(h, featp, 500)
        ransom_note(h, feat)

    ep(
        "atk-features-ransom",
        f"A stolen analyst session reads the feature store, re-encrypts "
        f"it in place with SSE-C and leaves a ransom note in {feat.name}.",
        analyst.arn,
        w.when(0.75, "03:00", PACIFIC),
        lambda t: analyst.get(f"sofia@{co}.io", t),
        (vps[6], None),
        boto3(os_="linux#6.1.0"),
        ransom,
        "attack",
        ("C09", "C21", "C23", "C24"),
    )
    ep(
        "atk-airflow-overwrite",
        "The Airflow role overwrites 3,000 curated partitions in twenty minutes (a poisoned DAG).",
        airflow_role.arn,
        w.when(0.65, "14:00"),
        lambda t: airflow_role.get("AmazonMWAA-airflow", t),
        (glue_hosts[2][1], v_lake),
        AIRFLOW,
        lambda h: h.write(curp, 3000, (0, 1), overwrite=True),
        "attack",
        ("C22",),
    )

    def crawl(h: Hand) -> None:
        discovery(h, ours)
        for p in (rawp, curp, featp, ext, sand, mdl, drop):
            h.list(p)
            h.read(p, 120, (0, 2), list_every=30)

    ep(
        "atk-analyst-crawl",
        "A stolen analyst session lists every bucket and crawls each one "
        "(List then Get), from the analyst's usual home address.",
        analyst.arn,
        w.when(0.45, "21:00", PACIFIC),
        lambda t: analyst.get(f"maya@{co}.io", t),
        (homes["maya"][0], None),
        awscli("s3.cp"),
        crawl,
        "attack",
        ("C10", "C17", "C11"),
    )
    ep(
        "atk-glue-public-path",
        "Glue credentials used from a public address without the VPC "
        f"endpoint, reading {cur.name}.",
        glue_role.arn,
        w.when(0.2, "19:00"),
        lambda t: glue_role.get(gh[0], t),
        (vps[7], None),
        GLUE,
        lambda h: h.read(curp, 200, (1, 6)),
        "attack",
        ("C12", "C14"),
    )
    guesses = [
        f"{co}-{x}"
        for x in (
            "prod",
            "backup",
            "secrets",
            "warehouse",
            "pii",
            "raw-eu",
            "exports",
            "finance",
            "models-old",
            "tmp",
        )
    ]
    ep(
        "atk-sagemaker-probe",
        "The SageMaker role probes buckets it may not read: AccessDenied "
        "and NoSuchBucket across the estate.",
        sm_role.arn,
        w.when(0.25, "22:00"),
        lambda t: sm_role.get("SageMaker", t),
        (vps[8], None),
        boto3(" exec-env/AWS_SageMaker"),
        lambda h: denied_storm(h, guesses, [scripts, archive, extracts, sandbox, pdrop, trail], W2),
        "attack",
        ("C18", "C12"),
    )
    ep(
        "atk-anonymous-extracts",
        f"Anonymous listing and downloads tried on {extracts.name} "
        "from many addresses (all refused).",
        None,
        w.when(0.85, "06:00"),
        ANONYMOUS,
        (pubs[1], None),
        CURL,
        lambda h: anonymous_reads(h, ext, 150, pubs, (CURL, WGET), error="AccessDenied"),
        "attack",
        ("C19", "C18"),
    )
    ep(
        "atk-glue-script-secrets",
        f"An analyst session reads connection properties, .env and "
        f"private keys from {scripts.name}, a bucket it never used.",
        analyst.arn,
        w.when(0.15, "20:00", PACIFIC),
        lambda t: analyst.get(f"tom@{co}.io", t),
        (vps[9], None),
        awscli("s3.cp"),
        lambda h: [h.s3("GetObject", scripts, key=k, size=2000) for k in code.pool[3:6]],
        "attack",
        ("C26", "C11", "C12"),
    )
    t = w.when(0.52, "23:50", PACIFIC)
    h = ep(
        "atk-raw-logging-off",
        f"Access logging switched off on {raw.name}.",
        admin.arn,
        t,
        lambda t: admin.get(f"leo@{co}.io", t),
        (vps[2], None),
        S3_CONSOLE,
        lambda h: logging_off(h, raw),
        "attack",
        ("C04", "C27"),
    )
    off = h.calls[-1].t
    w.al_mutes.append((raw.name, off + 60, off + 26 * HOUR))
    w.scenarios[-1].window = (t, off + 26 * HOUR)
    ep(
        "trap-logging-restored",
        f"Access logging on {raw.name} turned back on.",
        eng.arn,
        off + 26 * HOUR,
        lambda t: eng.get(f"kate@{co}.io", t),
        (homes["kate"][0], None),
        S3_CONSOLE,
        lambda h: h.s3(
            "PutBucketLogging", raw, params=logging_status(al_bucket.name, f"{raw.name}/")
        ),
    )
    ep(
        "atk-airflow-acl",
        f"The Airflow role reads and rewrites the ACL of {extracts.name}, "
        "operations it never uses.",
        airflow_role.arn,
        w.when(0.6, "09:00"),
        lambda t: airflow_role.get("AmazonMWAA-airflow", t),
        (glue_hosts[3][1], v_lake),
        AIRFLOW,
        lambda h: (
            h.s3("GetBucketAcl", extracts, size=700),
            h.s3("PutBucketAcl", extracts, params={"x-amz-acl": "bucket-owner-full-control"}),
        ),
        "attack",
        ("C29", "C08"),
    )
    plat_admin = sso(w, platform, "AdministratorAccess")
    ep(
        "atk-detector-blinding",
        "GuardDuty disabled and Macie paused in the platform account.",
        plat_admin.arn,
        w.when(0.95, "02:00", PACIFIC),
        lambda t: plat_admin.get(f"leo@{co}.io", t),
        (vps[10], None),
        boto3(os_="linux#6.1.0"),
        lambda h: (
            blind(h, "guardduty-disable", W2, platform),
            blind(h, "macie-pause", W2, platform),
            blind(h, "guardduty-threatintel", W2, platform),
        ),
        "attack",
        ("C32",),
    )
    bi_sess = bi_role.get("bi-exporter", w.when(0.72, "08:00"))
    ep(
        "atk-leaked-bi-url",
        "A week-long presigned BI extract URL leaks and is fetched 800 times from 200 addresses.",
        bi_role.arn,
        w.when(0.72, "10:00"),
        bi_sess,
        (vps[11], None),
        CURL,
        lambda h: presigned_abuse(
            h, ext, bi_sess, 800, ips(w.rng("leak"), "vps", 200), (CURL, WGET, PYTHON_REQUESTS)
        ),
        "attack",
        ("C31",),
    )
    tor = ips(w.rng("tor"), "tor", 3)
    ep(
        "atk-tor-engineer",
        "A data engineer session used from Tor exits to read raw data.",
        eng.arn,
        w.when(0.05, "05:00"),
        lambda t: eng.get(f"kate@{co}.io", t),
        (tor[0], None),
        awscli("s3.cp"),
        lambda h: [h.using(origin=(x, None)).read(rawp, 50, (2, 15)) for x in tor],
        "attack",
        ("C16", "C12"),
    )

    def foreign_vpce(h: Hand) -> None:
        vpce_denied(h, cur, v_lake, evil, 20, private(h.rng, "10.30.8"))
        foreign_via_endpoint(h, curp, v_lake, evil, 10, private(h.rng, "10.30.8"))
        h.using(origin=(private(h.rng, "10.66.2"), w.vpce["evil"]))
        h.read(curp, 120, (1, 10))

    ep(
        "atk-foreign-endpoint",
        "Requests of a foreign account denied by the lake endpoint "
        f"policy, then the Glue role reading curated data through an endpoint of account {evil}.",
        glue_role.arn,
        w.when(0.58, "15:00"),
        lambda t: glue_role.get(gh[0], t),
        gh,
        GLUE,
        foreign_vpce,
        "attack",
        ("C14",),
    )
    return w
