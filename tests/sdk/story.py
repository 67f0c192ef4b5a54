"""Drives `imagefs serve` with Tencent Cloud's official Python SDK (tencentcloud-sdk-python):
a sharing, copying and launching story and its error cases, over http:// or https:// (then
REQUESTS_CA_BUNDLE names the server's certificate). Usage:
    story.py URL OWNER_ACCOUNT OWNER_SECRET_ID OWNER_SECRET_KEY FRIEND_ACCOUNT FRIEND_SECRET_ID FRIEND_SECRET_KEY
STORY_REQ_METHOD (POST, the default, or GET) and STORY_SIGN_METHOD (TC3-HMAC-SHA256, the
default, HmacSHA1 or HmacSHA256) choose how the SDK sends and signs its requests;
STORY_OWNER_TOKEN makes the owner's key pair temporary credentials with that token.
Prints one line per step; exits non-zero on the first surprise."""

import os
import sys

from common import call, cvm, refused

url, owner_id, owner_secret_id, owner_key, friend_id, friend_secret_id, friend_key = sys.argv[1:8]


owner = cvm(url, owner_secret_id, owner_key, os.environ.get("STORY_OWNER_TOKEN") or None)
friend = cvm(url, friend_secret_id, friend_key)

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

bad = cvm(url, owner_secret_id, "wrong-key")
refused(bad, "DescribeRegions", {}, "AuthFailure.SignatureFailure")
print("story complete")
