"""One API call through Tencent Cloud's official Python SDK, with a key pair that may be
temporary credentials. Usage:
    call.py URL SECRET_ID SECRET_KEY TOKEN SIGN_METHOD REQ_METHOD ACTION PARAMS_JSON
TOKEN may be empty (permanent credentials); SIGN_METHOD is TC3-HMAC-SHA256, HmacSHA1 or
HmacSHA256; REQ_METHOD is POST or GET. Prints `ok ANSWER_JSON` or `error CODE MESSAGE`."""

import json
import sys

from common import cvm
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.cvm.v20170312 import models

url, secret_id, secret_key, token, sign_method, req_method, action, params = sys.argv[1:9]

client = cvm(url, secret_id, secret_key, token or None, sign_method=sign_method, req_method=req_method)
request = getattr(models, action + "Request")()
request.from_json_string(params)
try:
    answer = getattr(client, action)(request)
except TencentCloudSDKException as e:
    print("error", e.get_code(), e.get_message())
else:
    print("ok", answer.to_json_string())
