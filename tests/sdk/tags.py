"""Drives `imagefs serve`'s tags with Tencent Cloud's official Python SDK: the cvm client's
TagSpecification and tag filters, and the tag client (tencentcloud.tag.v20180813) on the
same images and instances. Usage:
    tags.py URL OWNER_ACCOUNT OWNER_SECRET_ID OWNER_SECRET_KEY FRIEND_ACCOUNT FRIEND_SECRET_ID FRIEND_SECRET_KEY
Prints one line per step and `tags story complete`; exits non-zero on the first surprise."""

import sys
import time

from tencentcloud.common import credential
from tencentcloud.cvm.v20170312 import models as cvm_models
from tencentcloud.tag.v20180813 import tag_client, models as tag_models

import common

url, owner_id, owner_secret_id, owner_key, friend_id, friend_secret_id, friend_key = sys.argv[1:8]
REGION = common.REGION


def clients(secret_id, secret_key):
    cred = credential.Credential(secret_id, secret_key)
    # The tag service takes no region: its resources name theirs.
    tag = tag_client.TagClient(cred, "", common.profile(url))
    return common.cvm(url, secret_id, secret_key), tag


def call(client, models, action, params):
    return common.call(client, action, params, models)


def refused(client, models, action, params, code):
    common.refused(client, action, params, code, models)


def tags_of(mapping):
    return {t["TagKey"]: t["TagValue"] for t in mapping["Tags"]}


cvm, tag = clients(owner_secret_id, owner_key)
friend_cvm, friend_tag = clients(friend_secret_id, friend_key)

launched = call(cvm, cvm_models, "RunInstances", {
    "ImageId": "img-487zeit5", "InstanceCount": 2, "Placement": {"Zone": "ap-guangzhou-3"},
    "TagSpecification": [{"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "web"}]}],
})
instances = launched["InstanceIdSet"]
found = call(cvm, cvm_models, "DescribeInstances", {"Filters": [{"Name": "tag:team", "Values": ["web"]}]})
assert sorted(i["InstanceId"] for i in found["InstanceSet"]) == sorted(instances), found
assert found["InstanceSet"][0]["Tags"] == [{"Key": "team", "Value": "web"}], found
print("launched with tags", len(instances))

refused(cvm, cvm_models, "RunInstances", {
    "ImageId": "img-487zeit5", "Placement": {"Zone": "ap-guangzhou-3"},
    "TagSpecification": [{"ResourceType": "instance", "Tags": [{"Key": "qcloud:team", "Value": "x"}]}],
}, "FailedOperation.TagKeyReserved")

for _ in range(100):
    states = call(cvm, cvm_models, "DescribeInstances", {"InstanceIds": instances[:1]})
    if states["InstanceSet"][0]["InstanceState"] == "RUNNING":
        break
    time.sleep(0.1)
image = call(cvm, cvm_models, "CreateImage", {
    "InstanceId": instances[0], "ImageName": "tagged",
    "TagSpecification": [{"ResourceType": "image", "Tags": [{"Key": "env", "Value": "prod"}]}],
})["ImageId"]
described = call(cvm, cvm_models, "DescribeImages", {"Filters": [{"Name": "tag-key", "Values": ["env"]}]})
assert [i["ImageId"] for i in described["ImageSet"]] == [image], described
assert described["ImageSet"][0]["Tags"] == [{"Key": "env", "Value": "prod"}], described
print("created with tags", image)

name = f"qcs::cvm:{REGION}:uin/{owner_id}:image/{image}"
call(tag, tag_models, "TagResources", {"ResourceList": [name], "Tags": [{"TagKey": "owner", "TagValue": "alice"}]})
got = call(tag, tag_models, "GetResources", {"ResourceList": [name]})
assert [m["Resource"] for m in got["ResourceTagMappingList"]] == [name], got
assert tags_of(got["ResourceTagMappingList"][0]) == {"env": "prod", "owner": "alice"}, got
# Named as some tools name images (under instance/, without the account): the same tags.
loose = f"qcs::cvm:{REGION}::instance/{image}"
got = call(tag, tag_models, "GetResources", {"ResourceList": [loose]})
assert [m["Resource"] for m in got["ResourceTagMappingList"]] == [loose], got
assert tags_of(got["ResourceTagMappingList"][0]) == {"env": "prod", "owner": "alice"}, got
print("tagged", name)

described = call(cvm, cvm_models, "DescribeImages", {"Filters": [{"Name": "tag:owner", "Values": ["alice"]}]})
assert [i["ImageId"] for i in described["ImageSet"]] == [image], described

call(tag, tag_models, "UnTagResources", {"ResourceList": [name], "TagKeys": ["env"]})
got = call(tag, tag_models, "GetResources", {"ResourceList": [name]})
assert tags_of(got["ResourceTagMappingList"][0]) == {"owner": "alice"}, got
print("untagged env")

everything = call(tag, tag_models, "GetResources", {"TagFilters": [{"TagKey": "team", "TagValue": ["web"]}]})
names = sorted(m["Resource"] for m in everything["ResourceTagMappingList"])
assert names == sorted(f"qcs::cvm:{REGION}:uin/{owner_id}:instance/{i}" for i in instances), everything
keys = call(tag, tag_models, "GetTagKeys", {})
assert keys["TagKeys"] == ["owner", "team"], keys
pairs = call(tag, tag_models, "GetTags", {"TagKeys": ["owner"]})
assert [(t["TagKey"], t["TagValue"]) for t in pairs["Tags"]] == [("owner", "alice")], pairs
by_ids = call(tag, tag_models, "DescribeResourceTagsByResourceIds", {
    "ServiceType": "cvm", "ResourcePrefix": "instance", "ResourceIds": instances, "ResourceRegion": REGION})
assert by_ids["TotalCount"] == 2 and {t["ResourceId"] for t in by_ids["Tags"]} == set(instances), by_ids
rows = call(tag, tag_models, "DescribeResourceTags", {
    "ServiceType": "cvm", "ResourcePrefix": "image", "ResourceId": image, "ResourceRegion": REGION})
assert [(r["TagKey"], r["TagValue"]) for r in rows["Rows"]] == [("owner", "alice")], rows
print("listed tags")

refused(tag, tag_models, "TagResources", {"ResourceList": [name], "Tags": [{"TagKey": "qcloud:x", "TagValue": "1"}]},
        "InvalidParameterValue.ReservedTagKey")
refused(tag, tag_models, "TagResources", {"ResourceList": [f"qcs::cvm:{REGION}:uin/{owner_id}:image/img-487zeit5"],
        "Tags": [{"TagKey": "k", "TagValue": "v"}]}, "AuthFailure.UnauthorizedOperation")
refused(friend_tag, tag_models, "TagResources", {"ResourceList": [name], "Tags": [{"TagKey": "k", "TagValue": "v"}]},
        "InvalidParameterValue.UinInvalid")
refused(friend_tag, tag_models, "TagResources", {"ResourceList": [f"qcs::cvm:{REGION}:uin/{friend_id}:image/{image}"],
        "Tags": [{"TagKey": "k", "TagValue": "v"}]}, "InvalidParameterValue.ResourceIdInvalid")
refused(tag, tag_models, "GetResources", {"ResourceList": ["qcs::cbs:ap-guangzhou::volume/disk-1"]},
        "InvalidParameterValue.ServiceTypeInvalid")
# ModifyResourceTags: a value replaced and a tag added, then a key renamed (its old key
# deleted) under the name some tools give images (instance/, no account), all in one change.
call(tag, tag_models, "ModifyResourceTags", {
    "Resource": name, "ReplaceTags": [{"TagKey": "owner", "TagValue": "bob"}, {"TagKey": "tier", "TagValue": "gold"}]})
got = call(tag, tag_models, "GetResources", {"ResourceList": [name]})
assert tags_of(got["ResourceTagMappingList"][0]) == {"owner": "bob", "tier": "gold"}, got
call(tag, tag_models, "ModifyResourceTags", {
    "Resource": loose, "ReplaceTags": [{"TagKey": "maintainer", "TagValue": "bob"}], "DeleteTags": [{"TagKey": "owner"}]})
described = call(cvm, cvm_models, "DescribeImages", {"ImageIds": [image]})
assert described["ImageSet"][0]["Tags"] == [
    {"Key": "maintainer", "Value": "bob"}, {"Key": "tier", "Value": "gold"}], described
print("modified tags")
refused(tag, tag_models, "ModifyResourceTags", {
    "Resource": name, "ReplaceTags": [{"TagKey": "tier", "TagValue": "silver"}], "DeleteTags": [{"TagKey": "tier"}]},
        "InvalidParameterValue.DeleteTagsParamError")
refused(tag, tag_models, "ModifyResourceTags", {
    "Resource": name, "ReplaceTags": [{"TagKey": "tier", "TagValue": "silver"}, {"TagKey": "qcloud:x", "TagValue": "1"}]},
        "InvalidParameterValue.ReservedTagKey")
refused(tag, tag_models, "ModifyResourceTags", {"Resource": name}, "MissingParameter")
refused(tag, tag_models, "ModifyResourceTags", {"Resource": name, "DeleteTags": []}, "InvalidParameter")
refused(friend_tag, tag_models, "ModifyResourceTags", {"Resource": name, "DeleteTags": [{"TagKey": "tier"}]},
        "InvalidParameterValue.UinInvalid")
got = call(tag, tag_models, "GetResources", {"ResourceList": [name]})
assert tags_of(got["ResourceTagMappingList"][0]) == {"maintainer": "bob", "tier": "gold"}, got
print("tags story complete")
