"""User agents of the clients these worlds use, as they appear in CloudTrail and access logs."""

from __future__ import annotations

from aws import Agent, service_agent

TLS12 = ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")


def awscli(command: str, os_: str = "macos#23.5.0", arch: str = "arm64", extra: str = "") -> Agent:
    ua = (
        f"aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/{os_} md/arch#{arch} lang/python#3.11.9 "
        f"md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe{extra} md/prompt#off "
        f"md/command#{command}"
    )
    return Agent(ua, cipher="TLS_AES_256_GCM_SHA384")


def boto3(extra: str = "", os_: str = "linux#5.10.219-208.866.amzn2.x86_64") -> Agent:
    ua = (
        f"Boto3/1.34.131 md/Botocore#1.34.131 ua/2.0 os/{os_} md/arch#x86_64 lang/python#3.11.9 "
        f"md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.131{extra}"
    )
    return Agent(ua)


NODE = Agent(
    "aws-sdk-js/3.600.0 ua/2.1 os/linux#5.10.219-208.866.amzn2.x86_64 lang/js md/nodejs#20.15.0 "
    "api/s3#3.600.0 m/E",
    xid=True,
)
GO2 = Agent(
    "aws-sdk-go-v2/1.30.3 ua/2.0 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 "
    "api/s3#1.58.2",
    xid=True,
)
LAMBDA_PY = boto3(" exec-env/AWS_Lambda_python3.12", os_="linux#5.10.219-229.866.amzn2.x86_64")
TERRAFORM = Agent(
    "APN/1.0 HashiCorp/1.0 Terraform/1.8.5 (+https://www.terraform.io) terraform-provider-aws/"
    "5.57.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.30.1 "
    "ua/2.0 os/linux lang/go#1.22.4 md/GOOS#linux md/GOARCH#amd64 api/s3#1.57.1",
    xid=True,
)
GHA_CLI = awscli("s3.sync", os_="linux#6.5.0-1022-azure", arch="x86_64")
S3_CONSOLE = Agent(
    "[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.750 Linux/5.10.219-186.866.amzn2int.x86_64 "
    "OpenJDK_64-Bit_Server_VM/25.412-b08 java/1.8.0_412 vendor/Oracle_Corporation cfg/retry-mode/"
    "standard]",
    *TLS12,
    console=True,
)
CONSOLE = Agent("AWS Internal", *TLS12, console=True)
CHROME = Agent(
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
SAFARI = Agent(
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/18.2 Mobile/15E148 Safari/604.1"
)
EDGE = Agent(
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"
)
FIREFOX = Agent("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0")
BROWSERS = (CHROME, SAFARI, EDGE, FIREFOX)
BOTS = (
    Agent("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
    Agent("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"),
)
RCLONE = Agent("rclone/v1.66.0", *TLS12)
S3_BROWSER = Agent("S3 Browser/11.5.7 https://s3browser.com", *TLS12, path_style=True)
CYBERDUCK = Agent("Cyberduck/8.8.2.41441 (Mac OS X/14.5) (arm64)")
PROWLER = boto3(" APN/1.0 Prowler/4.3.5", os_="linux#6.1.94-99.176.amzn2023.x86_64")
SCOUTSUITE = boto3(" Scout Suite/5.14.0", os_="macos#23.5.0")
SPLUNK = boto3(" Splunk_TA_AWS/7.7.0", os_="linux#4.18.0-513.el8.x86_64")
SSM_AGENT = Agent("aws-sdk-go/1.54.13 (go1.22.5; linux; amd64) amazon-ssm-agent/3.3.551.0", *TLS12)
EMRFS = Agent(
    "aws-sdk-java/1.12.705 Linux/5.10.219-208.866.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/"
    "17.0.11+9-LTS java/17.0.11 scala/2.12.18 vendor/Amazon.com_Inc. cfg/retry-mode/standard, "
    "EMRFS/2.63.0 Hadoop/3.3.6-amzn-4",
    *TLS12,
)
GLUE = Agent(
    "aws-sdk-java/1.12.705 Linux/5.10.219-208.866.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/"
    "17.0.11+9-LTS java/17.0.11 scala/2.12.18 vendor/Amazon.com_Inc. cfg/retry-mode/standard "
    "ExecutionEnvironment/AWS_Glue AWSGlue-DataCatalog/4.0",
    *TLS12,
)
AIRFLOW = boto3(" Airflow/2.9.2 AmPP/8.25.0 Caller/s3 DagRunKey/0", os_="linux#5.10.219-208.x86_64")
DBEAVER = Agent(
    "aws-sdk-java/1.12.600 Windows_11/10.0 Java_HotSpot(TM)_64-Bit_Server_VM/17 DBeaver/24.1"
)
JENKINS = awscli("s3.cp", os_="linux#5.10.219-208.866.amzn2.x86_64", arch="x86_64")
POWERSHELL = Agent(
    "AWSPowerShell.Common/4.1.600.0 .NET_Core/8.0.6 OS/Microsoft_Windows_10.0.20348 "
    "PowerShellCore/7.4 ClientAsync",
    *TLS12,
)
# AWS services calling as themselves or for a principal (``invokedBy``): no TLS of the caller
ATHENA = service_agent("athena.amazonaws.com")
CONFIG = service_agent("config.amazonaws.com")
ACCESS_ANALYZER = service_agent("access-analyzer.amazonaws.com")
CLOUDTRAIL_SVC = service_agent("cloudtrail.amazonaws.com")
S3_SVC = service_agent("s3.amazonaws.com")
FIREHOSE = service_agent("firehose.amazonaws.com")
# hostile or unusual
TRUFFLEHOG = Agent("TruffleHog", *TLS12)
KALI_CLI = awscli("s3.ls", os_="linux#6.6.15-amd64", arch="x86_64", extra=" md/distrib#kali.2024")
PYTHON_REQUESTS = Agent("python-requests/2.32.3")
CURL = Agent("curl/8.5.0", *TLS12)
WGET = Agent("Wget/1.21.4", *TLS12)
