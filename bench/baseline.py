"""The yardstick for `make bench`: the least a hand-written boto3 script does for the same login.

OIDC token (GitHub-style request) → sts:AssumeRoleWithWebIdentity → ecr:GetAuthorizationToken → merge into
$DOCKER_CONFIG/config.json. No validation, no locking, no atomic write: ecr-ci should cost no more than this.
Arguments: registry host, role ARN.
"""

import base64
import json
import os
import sys
import urllib.parse
import urllib.request

import boto3

host, role_arn = sys.argv[1], sys.argv[2]
region = host.split(".")[3]
url = os.environ["ACTIONS_ID_TOKEN_REQUEST_URL"] + "&audience=" + urllib.parse.quote("sts.amazonaws.com")
request = urllib.request.Request(
    url, headers={"Authorization": "bearer " + os.environ["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]}
)
with urllib.request.urlopen(request) as response:
    token = json.load(response)["value"]
sts = boto3.client("sts", region_name=region)
creds = sts.assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName="bench", WebIdentityToken=token)[
    "Credentials"
]
ecr = boto3.client(
    "ecr",
    region_name=region,
    aws_access_key_id=creds["AccessKeyId"],
    aws_secret_access_key=creds["SecretAccessKey"],
    aws_session_token=creds["SessionToken"],
)
data = ecr.get_authorization_token()["authorizationData"][0]
base64.b64decode(data["authorizationToken"])  # what a script checks before writing
path = os.path.join(os.environ["DOCKER_CONFIG"], "config.json")
config = {}
if os.path.exists(path):
    with open(path) as f:
        config = json.load(f)
config.setdefault("auths", {})[host] = {"auth": data["authorizationToken"]}
with open(path, "w") as f:
    json.dump(config, f)
