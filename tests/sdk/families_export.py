"""Drives `imagefs serve --export-dir DIR` (with a bucket folder `bucket` in DIR and a
transition delay) with Tencent Cloud's official Python SDK: image families rolled forward and
back (CreateImage and ModifyImageAttribute with ImageFamily and ImageDeprecated,
DescribeImageFromFamily), then an export (ExportImages) watched from EXPORTING to NORMAL, and
the refusals of both. Usage:
    families_export.py URL OWNER_ACCOUNT OWNER_SECRET_ID OWNER_SECRET_KEY FRIEND_ACCOUNT FRIEND_SECRET_ID FRIEND_SECRET_KEY
Prints one line per step (`exported /PATH` names the file in the bucket, `size N` the image's
size in GiB); exits non-zero on the first surprise."""

import sys
import time

from common import call, cvm, refused

url, owner_id, owner_secret_id, owner_key, friend_id, friend_secret_id, friend_key = sys.argv[1:8]


def state(cvm, image):
    return call(cvm, "DescribeImages", {"ImageIds": [image]})["ImageSet"][0]["ImageState"]


def wait_for(cvm, image, wanted):
    # The server's transition delay is a second; a minute is far beyond it.
    for _ in range(600):
        if state(cvm, image) == wanted:
            return
        time.sleep(0.1)
    sys.exit(f"{image} never became {wanted}")


def family_image(cvm, family):
    image = call(cvm, "DescribeImageFromFamily", {"ImageFamily": family}).get("Image")
    return image["ImageId"] if image else None


owner = cvm(url, owner_secret_id, owner_key)
friend = cvm(url, friend_secret_id, friend_key)

instances = call(owner, "RunInstances", {"ImageId": "img-9qabwvbn", "InstanceCount": 2, "Placement": {"Zone": "ap-guangzhou-3"}})["InstanceIdSet"]
call(owner, "DescribeInstances", {"InstanceIds": instances})
for _ in range(600):
    states = [i["InstanceState"] for i in call(owner, "DescribeInstances", {"InstanceIds": instances})["InstanceSet"]]
    if states == ["RUNNING", "RUNNING"]:
        break
    time.sleep(0.1)
print("launched", len(instances))

assert family_image(owner, "web") is None
old = call(owner, "CreateImage", {"InstanceId": instances[0], "ImageName": "web-1", "ImageFamily": "web"})["ImageId"]
new = call(owner, "CreateImage", {"InstanceId": instances[1], "ImageName": "web-2", "ImageFamily": "web"})["ImageId"]
# Still CREATING: not usable, so the family stands for nothing yet.
assert family_image(owner, "web") is None
wait_for(owner, old, "NORMAL")
wait_for(owner, new, "NORMAL")
described = call(owner, "DescribeImages", {"ImageIds": [new]})["ImageSet"][0]
assert described["ImageFamily"] == "web" and described["ImageDeprecated"] is False, described
assert family_image(owner, "web") == new
print("family web is", new)

call(owner, "ModifyImageAttribute", {"ImageId": new, "ImageDeprecated": True})
assert family_image(owner, "web") == old
print("rolled back to", old)
call(owner, "ModifyImageAttribute", {"ImageId": new, "ImageDeprecated": False})
assert family_image(owner, "web") == new
print("rolled forward to", new)
refused(owner, "ModifyImageAttribute", {"ImageId": new, "ImageFamily": "web/1"}, "InvalidParameterValue.InvalidImageFamily")
assert family_image(friend, "web") is None

refused(owner, "ExportImages", {"BucketName": "nope", "ImageIds": [new]}, "InvalidParameterValue.BucketNotFound")
refused(owner, "ExportImages", {"BucketName": "bucket"}, "InvalidParameter.ImageIdsSnapshotIdsMustOne")
refused(owner, "ExportImages", {"BucketName": "bucket", "ImageIds": ["img-9qabwvbn"]}, "UnsupportedOperation.PublicImageExportUnsupported")
call(owner, "ModifyImageSharePermission", {"ImageId": old, "AccountIds": [friend_id], "Permission": "SHARE"})
refused(friend, "ExportImages", {"BucketName": "bucket", "ImageIds": [old]}, "UnsupportedOperation.SharedImageExportUnsupported")
dry = call(owner, "ExportImages", {"BucketName": "bucket", "ImageIds": [new], "ExportFormat": "QCOW2", "DryRun": True})
assert dry.get("TaskId") is None and dry.get("CosPaths") is None, dry

exported = call(owner, "ExportImages", {"BucketName": "bucket", "ImageIds": [new], "ExportFormat": "QCOW2"})
assert exported["TaskId"] >= 1, exported
[path] = exported["CosPaths"]
snapshot = call(owner, "DescribeImages", {"ImageIds": [new]})["ImageSet"][0]["SnapshotSet"][0]["SnapshotId"]
assert path == f"/{new}_system_{snapshot}.qcow2", path
assert state(owner, new) == "EXPORTING"
refused(owner, "DeleteImages", {"ImageIds": [new]}, "InvalidImageId.IncorrectState")
refused(owner, "ExportImages", {"BucketName": "bucket", "ImageIds": [new]}, "InvalidParameterValue.InvalidImageState")
# Still the family's image while it is exported.
assert family_image(owner, "web") == new
wait_for(owner, new, "NORMAL")
print("exported", path)
print("size", described["ImageSize"])
print("story complete")
