"""What AWS writes: identities, buckets, one API call, and its CloudTrail record and
server-access-log lines.

Written from the AWS documentation and real samples (``../shared/testdata``), independently of
``sample_logs/generate.py``: a world built here shares no rendering quirk with the world the
detector was tuned on. Everything is deterministic given the ``Rng`` it is handed.

    >>> rng = Rng("doc")
    >>> who = iam_user("111122223333", "ops")
    >>> b = Bucket("acme-data", "111122223333", "us-east-1", data_events="all")
    >>> c = Call(1767225600, who, "GetObject", "198.51.100.7", CLI, "us-east-1", b.account,
    ...          bucket=b, key="a b.csv", size=10)
    >>> rec = cloudtrail_record(c, rng)
    >>> rec["eventCategory"], rec["requestParameters"]["key"]
    ('Data', 'a b.csv')
    >>> access_lines(c, rng)[0].split(" ")[7]
    'REST.GET.OBJECT'
"""

from __future__ import annotations

import base64
import hashlib
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

MINUTE, HOUR, DAY = 60, 3600, 86400
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
MIXED = ALNUM + "abcdefghijklmnopqrstuvwxyz"
XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(t)))


def clf(t: int) -> str:
    """Access-log time; months by hand because ``%b`` follows the locale."""
    g = time.gmtime(t)
    return f"[{g.tm_mday:02d}/{MONTHS[g.tm_mon - 1]}/{time.strftime('%Y:%H:%M:%S', g)} +0000]"


def stable(*parts: object) -> int:
    """A number fixed by its parts (identities must not depend on call order)."""
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:8], "big")


class Rng(random.Random):
    """``random.Random`` seeded from a string, with the id shapes AWS uses."""

    def __init__(self, *parts: object) -> None:
        super().__init__(":".join(map(str, parts)))

    def hexu(self, n: int) -> str:
        return f"{self.getrandbits(4 * n):0{n}X}"

    def hexl(self, n: int) -> str:
        return f"{self.getrandbits(4 * n):0{n}x}"

    def alnum(self, n: int, alphabet: str = ALNUM) -> str:
        return "".join(self.choices(alphabet, k=n))

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.getrandbits(128), version=4))

    def poisson(self, lam: float) -> int:
        if lam <= 0:
            return 0
        if lam > 30:
            return max(0, round(self.gauss(lam, lam**0.5)))
        k, p, limit = 0, self.random(), 2.718281828459045**-lam
        while p > limit:
            k, p = k + 1, p * self.random()
        return k

    def lognorm(self, median: float, sigma: float = 0.8) -> int:
        return max(1, int(self.lognormvariate(0, sigma) * median))


# ----------------------------------------------------------------------------- clients


@dataclass(frozen=True, slots=True)
class Agent:
    """A client: its User-Agent and the TLS it negotiates (``tls=""``: AWS-internal caller)."""

    ua: str
    tls: str = "TLSv1.3"
    cipher: str = "TLS_AES_128_GCM_SHA256"
    xid: bool = False  # newer SDKs add ?x-id=<Operation> to object requests
    path_style: bool = False  # s3.<region>.amazonaws.com/<bucket>/<key>
    console: bool = False


def service_agent(host: str) -> Agent:
    return Agent(host, "", "")


CLI = Agent(
    "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/macos#23.5.0 md/arch#arm64 lang/python#3.11.9 "
    "md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#s3.cp",
    cipher="TLS_AES_256_GCM_SHA384",
)


# --------------------------------------------------------------------------- identities


@dataclass(slots=True)
class Identity:
    """Who calls: CloudTrail ``userIdentity`` (None: anonymous), the access-log Requester and
    the principal an alert would name (role ARN without path, user ARN)."""

    ct: dict[str, Any] | None
    requester: str
    account: str
    principal: str
    session: str = ""


def role_session(
    account: str,
    role: str,
    session: str,
    created: int,
    key: str,
    *,
    path: str = "/",
    mfa: bool = False,
    web_identity: str = "",
    ec2: bool = False,
    source_identity: str = "",
) -> Identity:
    role_id = "AROA" + Rng("role-id", account, role).alnum(17)
    issuer = {
        "type": "Role",
        "principalId": role_id,
        "arn": f"arn:aws:iam::{account}:role{path}{role}",
        "accountId": account,
        "userName": role,
    }
    fed: dict[str, Any] = {}
    if web_identity:
        fed = {"federatedProvider": web_identity, "attributes": {}}
    ctx: dict[str, Any] = {
        "sessionIssuer": issuer,
        "webIdFederationData": fed,
        "attributes": {"creationDate": iso(created), "mfaAuthenticated": str(mfa).lower()},
    }
    if source_identity:
        ctx["sourceIdentity"] = source_identity
    if ec2:
        ctx["ec2RoleDelivery"] = "2.0"
    arn = f"arn:aws:sts::{account}:assumed-role/{role}/{session}"
    ct = {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": arn,
        "accountId": account,
        "accessKeyId": key,
        "sessionContext": ctx,
    }
    return Identity(ct, arn, account, f"arn:aws:iam::{account}:role/{role}", session)


def iam_user(account: str, name: str, key: str = "") -> Identity:
    uid = "AIDA" + Rng("user-id", account, name).alnum(17)
    key = key or "AKIA" + Rng("user-key", account, name).alnum(16)
    arn = f"arn:aws:iam::{account}:user/{name}"
    ct = {"type": "IAMUser", "principalId": uid, "arn": arn, "accountId": account}
    ct.update(accessKeyId=key, userName=name)
    return Identity(ct, arn, account, arn, name)


def service_identity(host: str) -> Identity:
    """An AWS service acting as itself (CloudTrail delivery, S3 lifecycle)."""
    return Identity({"type": "AWSService", "invokedBy": host}, f"svc:{host}", "", f"svc:{host}")


def invoked_by(who: Identity, host: str) -> Identity:
    """The same principal when an AWS service calls on its behalf (Athena, KMS via S3)."""
    assert who.ct is not None
    return Identity(
        {**who.ct, "invokedBy": host}, who.requester, who.account, who.principal, who.session
    )


ANONYMOUS = Identity(None, "-", "anonymous", "anonymous")


# ------------------------------------------------------------------------------ buckets


@dataclass(slots=True)
class Bucket:
    name: str
    account: str
    region: str
    data_events: str = "none"  # CloudTrail data events: "all", "write" (write-only) or "none"
    access_logs: bool = False
    kms_key: str = ""  # SSE-KMS default key ARN; "" = SSE-S3
    versioned: bool = False
    website: bool = False
    log_prefix: str = ""  # where its access logs go, relative to s3-access-logs/

    @property
    def owner_id(self) -> str:
        return hashlib.sha256(f"canonical:{self.account}".encode()).hexdigest()

    @property
    def arn(self) -> str:
        return f"arn:aws:s3:::{self.name}"


# --------------------------------------------------------------------------------- calls

# eventName -> (access-log operation, HTTP method, sub-resource, readOnly, category)
# category: "data" (CloudTrail data event), "mgmt" (management), "" (never in CloudTrail)
S3: dict[str, tuple[str, str, str, bool, str]] = {
    "GetObject": ("REST.GET.OBJECT", "GET", "", True, "data"),
    "HeadObject": ("REST.HEAD.OBJECT", "HEAD", "", True, "data"),
    "PutObject": ("REST.PUT.OBJECT", "PUT", "", False, "data"),
    "CopyObject": ("REST.COPY.OBJECT", "PUT", "", False, "data"),
    "DeleteObject": ("REST.DELETE.OBJECT", "DELETE", "", False, "data"),
    "DeleteObjects": ("REST.POST.MULTI_OBJECT_DELETE", "POST", "delete", False, "data"),
    "ListObjects": ("REST.GET.BUCKET", "GET", "", True, "data"),
    "ListObjectVersions": ("REST.GET.BUCKETVERSIONS", "GET", "versions", True, "data"),
    "GetObjectAcl": ("REST.GET.ACL", "GET", "acl", True, "data"),
    "PutObjectAcl": ("REST.PUT.ACL", "PUT", "acl", False, "data"),
    "GetObjectTagging": ("REST.GET.OBJECT_TAGGING", "GET", "tagging", True, "data"),
    "RestoreObject": ("REST.POST.RESTORE", "POST", "restore", False, "data"),
    "CreateMultipartUpload": ("REST.POST.UPLOADS", "POST", "uploads", False, "data"),
    "UploadPart": ("REST.PUT.PART", "PUT", "", False, "data"),
    "CompleteMultipartUpload": ("REST.POST.UPLOAD", "POST", "", False, "data"),
    "HeadBucket": ("REST.HEAD.BUCKET", "HEAD", "", True, "mgmt"),
    "GetBucketLocation": ("REST.GET.LOCATION", "GET", "location", True, "mgmt"),
    "GetBucketPolicy": ("REST.GET.BUCKETPOLICY", "GET", "policy", True, "mgmt"),
    "PutBucketPolicy": ("REST.PUT.BUCKETPOLICY", "PUT", "policy", False, "mgmt"),
    "DeleteBucketPolicy": ("REST.DELETE.BUCKETPOLICY", "DELETE", "policy", False, "mgmt"),
    "GetBucketPolicyStatus": ("REST.GET.POLICY_STATUS", "GET", "policyStatus", True, "mgmt"),
    "GetBucketAcl": ("REST.GET.ACL", "GET", "acl", True, "mgmt"),
    "PutBucketAcl": ("REST.PUT.ACL", "PUT", "acl", False, "mgmt"),
    "GetBucketVersioning": ("REST.GET.VERSIONING", "GET", "versioning", True, "mgmt"),
    "PutBucketVersioning": ("REST.PUT.VERSIONING", "PUT", "versioning", False, "mgmt"),
    "GetBucketEncryption": ("REST.GET.ENCRYPTION", "GET", "encryption", True, "mgmt"),
    "PutBucketEncryption": ("REST.PUT.ENCRYPTION", "PUT", "encryption", False, "mgmt"),
    "DeleteBucketEncryption": ("REST.DELETE.ENCRYPTION", "DELETE", "encryption", False, "mgmt"),
    "GetBucketLifecycle": ("REST.GET.LIFECYCLE", "GET", "lifecycle", True, "mgmt"),
    "PutBucketLifecycle": ("REST.PUT.LIFECYCLE", "PUT", "lifecycle", False, "mgmt"),
    "DeleteBucketLifecycle": ("REST.DELETE.LIFECYCLE", "DELETE", "lifecycle", False, "mgmt"),
    "GetBucketLogging": ("REST.GET.LOGGING_STATUS", "GET", "logging", True, "mgmt"),
    "PutBucketLogging": ("REST.PUT.LOGGING_STATUS", "PUT", "logging", False, "mgmt"),
    "GetBucketReplication": ("REST.GET.REPLICATION", "GET", "replication", True, "mgmt"),
    "PutBucketReplication": ("REST.PUT.REPLICATION", "PUT", "replication", False, "mgmt"),
    "DeleteBucketReplication": ("REST.DELETE.REPLICATION", "DELETE", "replication", False, "mgmt"),
    "GetBucketTagging": ("REST.GET.TAGGING", "GET", "tagging", True, "mgmt"),
    "PutBucketTagging": ("REST.PUT.TAGGING", "PUT", "tagging", False, "mgmt"),
    "GetBucketCors": ("REST.GET.CORS", "GET", "cors", True, "mgmt"),
    "GetBucketWebsite": ("REST.GET.WEBSITE", "GET", "website", True, "mgmt"),
    "GetAccelerateConfiguration": ("REST.GET.ACCELERATE", "GET", "accelerate", True, "mgmt"),
    "GetBucketRequestPayment": ("REST.GET.REQUEST_PAYMENT", "GET", "requestPayment", True, "mgmt"),
    "GetObjectLockConfiguration": (
        "REST.GET.OBJECT_LOCK_CONFIGURATION",
        "GET",
        "object-lock",
        True,
        "mgmt",
    ),
    "GetBucketOwnershipControls": (
        "REST.GET.OWNERSHIP_CONTROLS",
        "GET",
        "ownershipControls",
        True,
        "mgmt",
    ),
    "GetBucketPublicAccessBlock": (
        "REST.GET.PUBLIC_ACCESS_BLOCK",
        "GET",
        "publicAccessBlock",
        True,
        "mgmt",
    ),
    "PutBucketPublicAccessBlock": (
        "REST.PUT.PUBLIC_ACCESS_BLOCK",
        "PUT",
        "publicAccessBlock",
        False,
        "mgmt",
    ),
    "DeleteBucketPublicAccessBlock": (
        "REST.DELETE.PUBLIC_ACCESS_BLOCK",
        "DELETE",
        "publicAccessBlock",
        False,
        "mgmt",
    ),
    "GetBucketNotificationConfiguration": (
        "REST.GET.NOTIFICATION",
        "GET",
        "notification",
        True,
        "mgmt",
    ),
    # requests CloudTrail never records
    "WebsiteGet": ("WEBSITE.GET.OBJECT", "GET", "", True, ""),
    "WebsiteHead": ("WEBSITE.HEAD.OBJECT", "HEAD", "", True, ""),
    "Preflight": ("REST.OPTIONS.PREFLIGHT", "OPTIONS", "", True, ""),
    "Expire": ("S3.EXPIRE.OBJECT", "-", "", False, ""),
    "Transition": ("S3.TRANSITION_SIA.OBJECT", "-", "", False, ""),
}
OBJECT_OPS = {
    "GetObject",
    "HeadObject",
    "PutObject",
    "CopyObject",
    "DeleteObject",
    "GetObjectAcl",
    "PutObjectAcl",
    "GetObjectTagging",
    "RestoreObject",
    "CreateMultipartUpload",
    "UploadPart",
    "CompleteMultipartUpload",
}
LIST_OPS = {"ListObjects", "ListObjectVersions"}
NO_CONTENT = {
    "DeleteObject",
    "DeleteBucketPolicy",
    "DeleteBucketEncryption",
    "DeleteBucketLifecycle",
    "DeleteBucketReplication",
    "DeleteBucketPublicAccessBlock",
    "PutBucketPolicy",
}
S3_ERRORS = {  # code -> (HTTP status, message)
    "AccessDenied": (403, "Access Denied"),
    "NoSuchKey": (404, "The specified key does not exist."),
    "NoSuchBucket": (404, "The specified bucket does not exist"),
    "NoSuchBucketPolicy": (404, "The bucket policy does not exist"),
    "NoSuchCORSConfiguration": (404, "The CORS configuration does not exist"),
    "NoSuchWebsiteConfiguration": (
        404,
        "The specified bucket does not have a website configuration",
    ),
    "NoSuchLifecycleConfiguration": (404, "The lifecycle configuration does not exist"),
    "ReplicationConfigurationNotFoundError": (404, "The replication configuration was not found"),
    "ObjectLockConfigurationNotFoundError": (
        404,
        "Object Lock configuration does not exist for this bucket",
    ),
    "NoSuchTagSet": (404, "The TagSet does not exist"),
    "ServerSideEncryptionConfigurationNotFoundError": (
        404,
        "The server side encryption configuration was not found",
    ),
    "InvalidObjectState": (403, "The operation is not valid for the object's storage class"),
    "SlowDown": (503, "Please reduce your request rate."),
    "PreconditionFailed": (412, "At least one of the pre-conditions you specified did not hold"),
}


@dataclass(slots=True)
class Call:
    """One API request. ``render`` turns it into a CloudTrail record and/or access-log lines."""

    t: int
    who: Identity
    op: str  # eventName (a pseudo-name for requests CloudTrail never sees, see S3)
    ip: str  # source IP, or an AWS service host name
    agent: Agent
    region: str
    account: str  # recipientAccountId: where the record is delivered
    service: str = "s3"
    bucket: Bucket | None = None
    key: str = ""
    size: int = 0
    error: str = ""
    vpce: tuple[str, str] | None = None  # (endpoint id, owner account)
    params: dict[str, Any] | None = None
    resp: dict[str, Any] | None = None
    aed: dict[str, Any] | None = None  # extra additionalEventData
    resources: list[dict[str, str]] | None = None
    read_only: bool | None = None
    auth: str = "AuthHeader"
    query: dict[str, str] | None = None  # presigned or list query string
    keys: list[str] | None = None  # DeleteObjects
    copy_source: str = ""  # "bucket/key" of a copy
    version: str = ""  # version id named by the request (permanent delete, versioned read)
    sse: str = ""  # SSEApplied when not the bucket default
    referer: str = "-"
    status: int = 0  # HTTP status when not the usual (206 for range reads)
    label: str | None = None
    actor: str = ""  # the benign actor that made it ("" for scenarios)
    raw: dict[str, Any] | None = None  # a finished CloudTrail record (ids filled in)
    event_version: str = ""
    rid: str = ""
    seq: int = 0


def s3_host(b: Bucket, agent: Agent) -> str:
    return (
        f"s3.{b.region}.amazonaws.com"
        if agent.path_style
        else f"{b.name}.s3.{b.region}.amazonaws.com"
    )


def service_host(service: str, region: str) -> str:
    if service in ("iam", "organizations"):
        return f"{service}.amazonaws.com"
    if service == "sts" and region == "us-east-1":
        return "sts.amazonaws.com"
    return f"{service}.{region}.amazonaws.com"


def transfer(c: Call) -> tuple[int, int]:
    """(bytes in, bytes out) of an S3 request."""
    if c.error:
        return 0, 243 + len(c.error) * 3
    if c.op in ("PutObject", "UploadPart"):
        return c.size, 0
    if c.op == "DeleteObjects":
        n = len(c.keys or ())
        return 90 + 70 * n, 110 + 80 * n
    if c.op.startswith("Put") or c.op == "CompleteMultipartUpload":
        return 380 + (len(str(c.params)) if c.params else 0), 0
    if c.op in ("HeadObject", "DeleteObject", "Preflight", "HeadBucket", "Expire", "Transition"):
        return 0, 0
    if c.op == "CopyObject":
        return 0, 234
    if c.op in LIST_OPS:
        return 0, c.size or 620
    if c.op.startswith("Get") and c.op not in ("GetObject",):
        return 0, c.size or 180
    return 0, c.size


# ---------------------------------------------------------------------------- CloudTrail


def cloudtrail_record(c: Call, rng: Rng) -> dict[str, Any]:
    """A CloudTrail record, keys in the order CloudTrail writes them."""
    if c.raw is not None:
        rec = dict(c.raw)
        rec.setdefault("eventID", rng.uuid())
        rec.setdefault("requestID", c.rid or rng.uuid())
        return rec
    b, ag = c.bucket, c.agent
    anonymous = c.who.ct is None
    rec: dict[str, Any] = {"eventVersion": c.event_version or ("1.10" if b else "1.09")}
    rec["userIdentity"] = (
        {"type": "AWSAccount", "principalId": "", "accountId": "anonymous"}
        if anonymous
        else c.who.ct
    )
    rec["eventTime"] = iso(c.t)
    rec["eventSource"] = f"{c.service}.amazonaws.com"
    rec["eventName"] = c.op
    rec["awsRegion"] = c.region
    rec["sourceIPAddress"] = c.ip
    rec["userAgent"] = ag.ua
    if c.error:
        rec["errorCode"] = c.error
        if b is not None and c.service == "s3":
            rec["errorMessage"] = S3_ERRORS.get(c.error, (0, c.error))[1]
        else:
            action = f"{c.service}:{c.op}"
            rec["errorMessage"] = (
                f"User: {c.who.requester} is not authorized to perform: {action} because no "
                f"identity-based policy allows the {action} action"
            )
    if b is not None and c.service == "s3":
        host = s3_host(b, ag)
        _s3_fields(c, b, rec, host, rng)
    else:
        host = service_host(c.service, c.region)
        rec["requestParameters"] = c.params
        rec["responseElements"] = c.resp
        if c.aed:
            rec["additionalEventData"] = c.aed
        rec["requestID"] = c.rid or rng.uuid()
        if b is not None:  # account-level S3 control calls
            host = f"{b.account}.s3-control.{b.region}.amazonaws.com"
    rec["eventID"] = rng.uuid()
    category = S3[c.op][4] if (b is not None and c.service == "s3" and c.op in S3) else "mgmt"
    ro = c.read_only
    if ro is None:
        ro = S3[c.op][3] if c.op in S3 else c.op.startswith(("Get", "List", "Describe", "Head"))
    rec["readOnly"] = ro
    res = c.resources
    if b is not None and c.service == "s3":
        bres = {"accountId": b.account, "type": "AWS::S3::Bucket", "ARN": b.arn}
        res = [bres] + (c.resources or [])
        if c.op in OBJECT_OPS and c.key:
            res = [{"type": "AWS::S3::Object", "ARN": f"{b.arn}/{c.key}"}, *res]
    if res:
        rec["resources"] = res
    rec["eventType"] = "AwsApiCall"
    rec["managementEvent"] = category != "data"
    rec["recipientAccountId"] = c.account
    if (c.who.account and c.who.account not in (c.account, "anonymous")) or (
        b is not None and b.account != c.account
    ):
        rec["sharedEventID"] = rng.uuid()
    if c.vpce:
        rec["vpcEndpointId"], rec["vpcEndpointAccountId"] = c.vpce
    rec["eventCategory"] = "Data" if category == "data" else "Management"
    if ag.tls:
        rec["tlsDetails"] = {
            "tlsVersion": ag.tls,
            "cipherSuite": ag.cipher,
            "clientProvidedHostHeader": host,
        }
    if ag.console:
        rec["sessionCredentialFromConsole"] = "true"
    return rec


def _s3_fields(c: Call, b: Bucket, rec: dict[str, Any], host: str, rng: Rng) -> None:
    sub = S3[c.op][2] if c.op in S3 else ""
    params: dict[str, Any] = {"bucketName": b.name, "Host": host}
    if sub:
        params[sub] = ""
    if c.op in LIST_OPS and c.query:
        params.update(c.query)
    elif c.key:
        params["key"] = c.key
    if c.version:
        params["versionId"] = c.version
    if c.copy_source:
        params["x-amz-copy-source"] = c.copy_source
    if c.auth == "QueryString" and c.query:
        for k in ("X-Amz-Date", "X-Amz-Algorithm", "X-Amz-SignedHeaders", "X-Amz-Expires"):
            if k in c.query:
                params[k] = c.query[k]
    if c.agent.xid and c.op in OBJECT_OPS:
        params["x-id"] = c.op
    if c.params:
        params.update(c.params)
    rec["requestParameters"] = params
    resp = c.resp
    if (
        resp is None
        and not c.error
        and c.op in ("PutObject", "CopyObject", "CompleteMultipartUpload")
    ):
        if c.sse == "SSE_C":
            resp = {"x-amz-server-side-encryption-customer-algorithm": "AES256"}
        elif b.kms_key:
            resp = {
                "x-amz-server-side-encryption": "aws:kms",
                "x-amz-server-side-encryption-aws-kms-key-id": b.kms_key,
                "x-amz-server-side-encryption-bucket-key-enabled": "true",
            }
        else:
            resp = {"x-amz-server-side-encryption": "AES256"}
        if b.versioned:
            resp["x-amz-version-id"] = rng.alnum(32, MIXED)
        if c.op == "CopyObject":
            resp["copyObjectResult"] = {"ETag": rng.hexl(32), "lastModified": iso(c.t)}
    rec["responseElements"] = resp
    inb, out = transfer(c)
    signed = c.who.ct is not None
    aed: dict[str, Any] = {"SignatureVersion": "SigV4"} if signed else {}
    aed["CipherSuite"] = c.agent.cipher or "ECDHE-RSA-AES128-GCM-SHA256"
    aed["bytesTransferredIn"] = float(inb)
    if not c.error and c.op in OBJECT_OPS and c.op != "DeleteObject":
        aed["SSEApplied"] = c.sse or ("SSE_KMS" if b.kms_key else "Default_SSE_S3")
    if signed:
        aed["AuthenticationMethod"] = c.auth
    aed["x-amz-id-2"] = host_id(rng)
    aed["bytesTransferredOut"] = float(out)
    if c.aed:
        aed.update(c.aed)
    rec["additionalEventData"] = aed
    rec["requestID"] = c.rid


def host_id(rng: Rng) -> str:
    return base64.b64encode(rng.randbytes(56)).decode()


# --------------------------------------------------------------------------- access logs


def log_key(key: str, twice: bool = True) -> str:
    """The Key field as S3 writes it: form-encoded, twice for REST operations."""
    once = quote_plus(key, safe="/")
    return quote_plus(once, safe="/") if twice else once


def access_lines(c: Call, rng: Rng) -> list[str]:
    """Server access log lines for a request to a logged bucket (one per key for
    DeleteObjects, two for a copy within the bucket)."""
    b = c.bucket
    assert b is not None
    op, method, sub = S3[c.op][:3]
    head = f"{b.owner_id} {b.name} {clf(c.t)}"
    hid = host_id(rng)
    if c.op in ("Expire", "Transition"):
        k = log_key(c.key, twice=False)
        tail = " -" * 10
        return [f'{head} - AmazonS3 {c.rid} {op} {k} "-" - - - {c.size} - - "-" "-" -{tail}']
    ag = c.agent
    inb, out = transfer(c)
    host = s3_host(b, ag)
    tls, cipher = ag.tls or "-", ag.cipher or "-"
    if not ag.tls and c.who.requester.startswith("svc:"):
        tls, cipher = "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"
    path = "/" + quote(c.key, safe="/~") if c.key else "/"
    if ag.path_style:
        path = f"/{b.name}" + (path if c.key else "")
    if c.op in ("WebsiteGet", "WebsiteHead"):
        host, tls, cipher = f"{b.name}.s3-website-{b.region}.amazonaws.com", "-", "-"
        path = "/" + quote(c.key, safe="/~")
    q = ""
    if c.query:
        q = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in c.query.items())
    elif sub:
        q = sub
    if c.version:
        q = (q + "&" if q else "") + f"versionId={c.version}"
    if ag.xid and c.op in OBJECT_OPS and not c.query:
        q = (q + "&" if q else "") + f"x-id={c.op}"
    uri = f'"{method} {path}{"?" + q if q else ""} HTTP/1.1"'
    status = c.status or (
        S3_ERRORS.get(c.error, (400, ""))[0] if c.error else 204 if c.op in NO_CONTENT else 200
    )
    obj_size = str(c.size) if c.size and c.key and not c.error and c.op in OBJECT_OPS else "-"
    if c.op in ("DeleteObject", "PutObjectAcl", "GetObjectAcl", "GetObjectTagging"):
        obj_size = "-"
    total = 3 + (inb + out) // 90000 + rng.randrange(40)
    turn = total - 2 if c.op == "PutObject" else rng.randrange(1, min(total, 30) + 1)
    signed = c.who.ct is not None
    sig, auth = ("SigV4", c.auth) if signed else ("-", "-")
    ip = c.ip if c.ip[:1].isdigit() else "-"
    if ip == "-" and c.who.requester.startswith("svc:"):
        ip = "-"
    src_region = b.region if (c.vpce or not ip[:1].isdigit() or ip.startswith("10.")) else "-"
    who = f"{head} {ip} {c.who.requester} {c.rid}"
    ua = ag.ua.replace('"', "'")
    mid = f'{total} {turn} "{c.referer}" "{ua}" {c.version or "-"}'
    tail = f"{hid} {sig} {cipher} {auth} {host} {tls} - - {src_region}"

    def line(operation: str, k: str, u: str, st: int, err: str, sent: int, size: str) -> str:
        return f"{who} {operation} {k} {u} {st} {err or '-'} {sent or '-'} {size} {mid} {tail}"

    key = log_key(c.key) if c.key else "-"
    lines = [line(op, key, uri, status, c.error, out, obj_size)]
    if c.op == "CopyObject" and c.copy_source.startswith(b.name + "/"):
        src_key = log_key(c.copy_source.split("/", 1)[1])
        lines.insert(0, line("REST.COPY.OBJECT_GET", src_key, uri, 200, "", 0, obj_size))
    elif c.op == "DeleteObjects" and not c.error:
        for k in c.keys or ():
            lines.append(
                line("BATCH.DELETE.OBJECT", log_key(k, twice=False), '"-"', 204, "", 0, "-")
            )
    return lines


def copy_source_line(c: Call, src: Bucket, rng: Rng) -> str:
    """What the source bucket logs for a copy into another bucket (REST.COPY.OBJECT_GET)."""
    src_key = c.copy_source.split("/", 1)[1]
    view = Call(
        c.t,
        c.who,
        "CopyObject",
        c.ip,
        c.agent,
        src.region,
        src.account,
        bucket=src,
        key=src_key,
        size=c.size,
        vpce=c.vpce,
        rid=c.rid,
    )
    line = access_lines(view, rng)[-1]
    return line.replace(" REST.COPY.OBJECT ", " REST.COPY.OBJECT_GET ", 1)
