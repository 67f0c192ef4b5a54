"""What the Python SDK scripts share: a client profile for `imagefs serve` at a URL, a CVM
client, one call by action name, and an expected refusal. The scripts run from this directory,
so they import it as `common`.

STORY_REQ_METHOD (POST, the default, or GET) and STORY_SIGN_METHOD (TC3-HMAC-SHA256, the
default, HmacSHA1 or HmacSHA256) choose how requests are sent and signed unless a script says;
REQUESTS_CA_BUNDLE names the certificate an https:// server is verified with."""

import json
import os
import sys

from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.cvm.v20170312 import cvm_client, models as cvm_models

REGION = "ap-guangzhou"


def profile(url, sign_method=None, req_method=None):
    http = HttpProfile()
    http.scheme, http.endpoint = url.split("://", 1)
    # The SDK verifies HTTPS against certifi's bundle unless given a certificate.
    http.certification = os.environ.get("REQUESTS_CA_BUNDLE")
    http.reqMethod = req_method or os.environ.get("STORY_REQ_METHOD", "POST")
    p = ClientProfile(signMethod=sign_method or os.environ.get("STORY_SIGN_METHOD", "TC3-HMAC-SHA256"))
    p.httpProfile = http
    return p


def cvm(url, secret_id, secret_key, token=None, region=REGION, **methods):
    """A CVM client of serve at `url`; `methods` are profile's sign_method and req_method."""
    cred = credential.Credential(secret_id, secret_key, token)
    return cvm_client.CvmClient(cred, region, profile(url, **methods))


def call(client, action, params, models=cvm_models):
    """`action` with `params` (the API's JSON members); the answer as JSON."""
    request = getattr(models, action + "Request")()
    request.from_json_string(json.dumps(params))
    return json.loads(getattr(client, action)(request).to_json_string())


def refused(client, action, params, code, models=cvm_models):
    """Exits unless `action` is refused with `code`."""
    try:
        call(client, action, params, models)
    except TencentCloudSDKException as e:
        if e.get_code() != code:
            sys.exit(f"{action}: expected {code}, got {e.get_code()}: {e.get_message()}")
        print(f"refused {action} {code}")
        return
    sys.exit(f"{action}: expected {code}, but it succeeded")
