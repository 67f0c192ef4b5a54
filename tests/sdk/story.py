"""Drives `imagefs serve` with Tencent Cloud's official Python SDK (tencentcloud-sdk-python):
a sharing, copying and launching story and its error cases, over http:// or https:// (then
REQUESTS_CA_BUNDLE names the server's certificate). Usage:
    story.py URL OWNER_ACCOUNT OWNER_SECRET_ID OWNER_SECRET_KEY FRIEND_ACCOUNT FRIEND_SECRET_ID FRIEND_SECRET_KEY
STORY_REQ_METHOD (POST, the default, or GET) and STORY_SIGN_METHOD (TC3-HMAC-SHA256, the
default, HmacSHA1 or HmacSHA256) choose how the SDK sends and signs its requests;
STORY_OWNER_TOKEN makes the owner's key pair temporary credentials with that token.
Prints one line per step; exits non-zero on the first surprise."""

import json
import os
import sys

from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.cvm.v20170312 import cvm_client, models

url, owner_id, owner_secret_id, owner_key, friend_id, friend_secret_id, friend_key = sys.argv[1:8]


def client(secret_id, secret_key, token=None, region="ap-guangzhou"):
    http = HttpProfile()
    http.scheme, http.endpoint = url.split("://", 1)
    # The SDK verifies HTTPS against certifi's bundle unless given a certificate.
    http.certification = os.environ.get("REQUESTS_CA_BUNDLE")
    http.reqMethod = os.environ.get("STORY_REQ_METHOD", "POST")
    profile = ClientProfile(signMethod=os.environ.get("STORY_SIGN_METHOD", "TC3-HMAC-SHA256"))
    profile.httpProfile = http
    return cvm_client.CvmClient(credential.Credential(secret_id, secret_key, token), region, profile)


def call(cvm, action, params):
    request = getattr(models, action + "Request")()
    request.from_json_string(json.dumps(params))
    return json.loads(getattr(cvm, action)(request).to_json_string())


def refused(cvm, action, params, code):
    try:
        call(cvm, action, params)
    except TencentCloudSDKException as e:
        if e.get_code() != code:
            sys.exit(f"{action}: expected {code}, got {e.get_code()}: {e.get_message()}")
        print(f"refused {action} {code}")
        return
    sys.exit(f"{action}: expected {code}, but it succeeded")


owner = client(owner_secret_id, owner_key, os.environ.get("STORY_OWNER_TOKEN") or None)
friend = client(friend_secret_id, friend_key)

images = call(owner, "DescribeImages", {"ImageIds": ["img-9qabwvbn"]})
assert images["ImageSet"][0]["ImageName"] == "CentOS 7.6 64位", images
print("described", images["ImageSet"][0]["ImageId"])

launched = call(owner, "RunInstances", {"ImageId": "img-487zeit5", "InstanceCount": 3, "Placement": {"Zone": "ap-guangzhou-3"}})
instances = launched["InstanceIdSet"]
assert len(instances) == 3, launched
print("launched", len(instances))

image = call(owner, "CreateImage", {"InstanceId": instances[0], "ImageName": "sdk-golden"})["ImageId"]
print("created", image)
refused(owner, "CreateImage", {"InstanceId": instances[1], "ImageName": "sdk-golden"}, "InvalidImageName.Duplicate")
# A name of digits stays a name, however the request was sent.
call(owner, "ModifyImageAttribute", {"ImageId": image, "ImageName": "12345"})
renamed = call(owner, "DescribeImages", {"ImageIds": [image]})["ImageSet"][0]["ImageName"]
assert renamed == "12345", renamed
print("renamed", image)

call(owner, "ModifyImageSharePermission", {"ImageId": image, "AccountIds": [friend_id], "Permission": "SHARE"})
shared = call(owner, "DescribeImageSharePermission", {"ImageId": image})["SharePermissionSet"]
assert [s["AccountId"] for s in shared] == [friend_id], shared
print("shared with", friend_id)
refused(owner, "ModifyImageSharePermission", {"ImageId": image, "AccountIds": [friend_id], "Permission": "SHARE"}, "FailedOperation.AccountAlreadyExists")
refused(owner, "ModifyImageSharePermission", {"ImageId": image, "AccountIds": [owner_id], "Permission": "SHARE"}, "InvalidAccountIs.YourSelf")

seen = call(friend, "DescribeImages", {"Filters": [{"Name": "image-type", "Values": ["SHARED_IMAGE"]}]})
assert [i["ImageId"] for i in seen["ImageSet"]] == [image], seen
print("friend sees", image)
refused(friend, "ModifyImageAttribute", {"ImageId": image, "ImageName": "mine"}, "UnsupportedOperation.SharedImageModifyUnsupported")
friend_launch = call(friend, "RunInstances", {"ImageId": image, "Placement": {"Zone": "ap-guangzhou-3"}})
print("friend launched", len(friend_launch["InstanceIdSet"]))

copies = call(owner, "SyncImages", {"ImageIds": [image], "DestinationRegions": ["ap-shanghai", "ap-beijing"], "ImageSetRequired": True})
assert sorted(c["Region"] for c in copies["ImageSet"]) == ["ap-beijing", "ap-shanghai"], copies
print("copied to", len(copies["ImageSet"]), "regions")
refused(owner, "SyncImages", {"ImageIds": [image], "DestinationRegions": ["ap-singapore"]}, "InvalidRegion.Unavailable")

refused(owner, "DeleteImages", {"ImageIds": [image]}, "InvalidImageId.InShared")
call(owner, "ModifyImageSharePermission", {"ImageId": image, "AccountIds": [friend_id], "Permission": "CANCEL"})
call(owner, "DeleteImages", {"ImageIds": [image]})
refused(owner, "DescribeImageSharePermission", {"ImageId": image}, "InvalidImageId.NotFound")
print("deleted", image)

bad = client(owner_secret_id, "wrong-key")
refused(bad, "DescribeRegions", {}, "AuthFailure.SignatureFailure")
print("story complete")
