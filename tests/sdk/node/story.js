// Drives `imagefs serve` with Tencent Cloud's official Node.js SDK (tencentcloud-sdk-nodejs-cvm,
// and the common client of tencentcloud-sdk-nodejs-common for the tag service, pinned in
// package.json): the story of ../story.py, a sharing, copying, tagging and launching story and
// its error cases, over http:// or https:// (then NODE_EXTRA_CA_CERTS names the server's
// certificate). Usage:
//   node story.js URL OWNER_ACCOUNT OWNER_SECRET_ID OWNER_SECRET_KEY FRIEND_ACCOUNT FRIEND_SECRET_ID FRIEND_SECRET_KEY
// STORY_REQ_METHOD (POST, the default, or GET) and STORY_SIGN_METHOD (TC3-HMAC-SHA256, the
// default, HmacSHA1 or HmacSHA256) choose how the SDK sends and signs its requests;
// STORY_OWNER_TOKEN makes the owner's key pair temporary credentials with that token.
// Prints one line per step; exits non-zero on the first surprise.
"use strict";

const assert = require("assert");
const CvmClient = require("tencentcloud-sdk-nodejs-cvm").cvm.v20170312.Client;
const { CommonClient } = require("tencentcloud-sdk-nodejs-common");

const [url, ownerId, ownerSecretId, ownerKey, friendId, friendSecretId, friendKey] =
  process.argv.slice(2);
const endpoint = new URL(url);

function profile() {
  return {
      signMethod: process.env.STORY_SIGN_METHOD || "TC3-HMAC-SHA256",
      httpProfile: {
        // The scheme with its `//`, and the host and port alone: the SDK joins them.
        protocol: endpoint.protocol + "//",
        endpoint: endpoint.host,
        reqMethod: process.env.STORY_REQ_METHOD || "POST",
        reqTimeout: 30,
      },
  };
}

function client(secretId, secretKey, token) {
  return new CvmClient({
    credential: { secretId, secretKey, token },
    region: "ap-guangzhou",
    profile: profile(),
  });
}

// The tag service (2018-08-13) through the SDK's client for any product; it takes no region.
function tagClient(secretId, secretKey, token) {
  const tags = new CommonClient("tag.tencentcloudapi.com", "2018-08-13", {
    credential: { secretId, secretKey, token },
    region: "",
    profile: profile(),
  });
  // Called as `tags.GetResources(params)`, like the CVM client's actions.
  return new Proxy(tags, {
    get: (target, action) =>
      action in target ? target[action] : (params) => target.request(action, params),
  });
}

async function refused(cvm, action, params, code) {
  try {
    await cvm[action](params);
  } catch (err) {
    if (err.code !== code) {
      throw new Error(`${action}: expected ${code}, got ${err.code}: ${err.message}`);
    }
    console.log(`refused ${action} ${code}`);
    return;
  }
  throw new Error(`${action}: expected ${code}, but it succeeded`);
}

async function story() {
  const owner = client(ownerSecretId, ownerKey, process.env.STORY_OWNER_TOKEN || undefined);
  const friend = client(friendSecretId, friendKey);

  const images = await owner.DescribeImages({ ImageIds: ["img-9qabwvbn"] });
  assert.strictEqual(images.ImageSet[0].ImageName, "CentOS 7.6 64位");
  console.log("described", images.ImageSet[0].ImageId);

  const launched = await owner.RunInstances({
    ImageId: "img-487zeit5",
    InstanceCount: 3,
    Placement: { Zone: "ap-guangzhou-3" },
  });
  const instances = launched.InstanceIdSet;
  assert.strictEqual(instances.length, 3, JSON.stringify(launched));
  console.log("launched", instances.length);

  const image = (await owner.CreateImage({ InstanceId: instances[0], ImageName: "node-golden" }))
    .ImageId;
  console.log("created", image);
  await refused(
    owner,
    "CreateImage",
    { InstanceId: instances[1], ImageName: "node-golden" },
    "InvalidImageName.Duplicate",
  );
  // A name of digits stays a name, however the request was sent.
  await owner.ModifyImageAttribute({ ImageId: image, ImageName: "12345" });
  const renamed = (await owner.DescribeImages({ ImageIds: [image] })).ImageSet[0].ImageName;
  assert.strictEqual(renamed, "12345");
  console.log("renamed", image);

  // Families: the image joins one and stands for it until it is deprecated.
  await owner.ModifyImageAttribute({ ImageId: image, ImageFamily: "node-web" });
  const family = async () =>
    ((await owner.DescribeImageFromFamily({ ImageFamily: "node-web" })).Image || {}).ImageId;
  assert.strictEqual(await family(), image);
  await owner.ModifyImageAttribute({ ImageId: image, ImageDeprecated: true });
  assert.strictEqual(await family(), undefined);
  await owner.ModifyImageAttribute({ ImageId: image, ImageDeprecated: false });
  assert.strictEqual(await family(), image);
  console.log("family node-web is", image);

  // Tags, through the tag service, on the image and on an instance; read back by the tag
  // service and found by DescribeImages' tag filter.
  const tags = tagClient(ownerSecretId, ownerKey, process.env.STORY_OWNER_TOKEN || undefined);
  const imageName = `qcs::cvm:ap-guangzhou:uin/${ownerId}:image/${image}`;
  const instanceName = `qcs::cvm:ap-guangzhou:uin/${ownerId}:instance/${instances[1]}`;
  await tags.TagResources({
    ResourceList: [imageName, instanceName],
    Tags: [{ TagKey: "env", TagValue: "prod" }],
  });
  await tags.ModifyResourceTags({
    Resource: imageName,
    ReplaceTags: [{ TagKey: "team", TagValue: "web" }],
  });
  const found = await tags.GetResources({ ResourceList: [imageName, instanceName] });
  const tagsOf = (name) =>
    Object.fromEntries(
      found.ResourceTagMappingList.find((m) => m.Resource === name).Tags.map((t) => [
        t.TagKey,
        t.TagValue,
      ]),
    );
  assert.deepStrictEqual(tagsOf(imageName), { env: "prod", team: "web" });
  assert.deepStrictEqual(tagsOf(instanceName), { env: "prod" });
  const tagged = await owner.DescribeImages({ Filters: [{ Name: "tag:team", Values: ["web"] }] });
  assert.deepStrictEqual(tagged.ImageSet.map((i) => i.ImageId), [image]);
  const taggedInstances = await owner.DescribeInstances({
    Filters: [{ Name: "tag-key", Values: ["env"] }],
  });
  assert.deepStrictEqual(taggedInstances.InstanceSet.map((i) => i.InstanceId), [instances[1]]);
  await refused(
    tags,
    "TagResources",
    { ResourceList: [imageName], Tags: [{ TagKey: "qcloud:x", TagValue: "1" }] },
    "InvalidParameterValue.ReservedTagKey",
  );
  await tags.UnTagResources({ ResourceList: [instanceName], TagKeys: ["env"] });
  const untagged = await tags.GetResources({ ResourceList: [instanceName] });
  const instanceTags = (untagged.ResourceTagMappingList[0] || { Tags: [] }).Tags;
  assert.deepStrictEqual(instanceTags, []);
  console.log("tagged", image, "and", instances[1]);
  // This server has no export directory: no bucket exists.
  await refused(
    owner,
    "ExportImages",
    { BucketName: "bucket", ImageIds: [image] },
    "InvalidParameterValue.BucketNotFound",
  );

  await owner.ModifyImageSharePermission({
    ImageId: image,
    AccountIds: [friendId],
    Permission: "SHARE",
  });
  const shared = (await owner.DescribeImageSharePermission({ ImageId: image }))
    .SharePermissionSet;
  assert.deepStrictEqual(shared.map((s) => s.AccountId), [friendId]);
  console.log("shared with", friendId);
  await refused(
    owner,
    "ModifyImageSharePermission",
    { ImageId: image, AccountIds: [ownerId], Permission: "SHARE" },
    "InvalidAccountIs.YourSelf",
  );

  const seen = await friend.DescribeImages({
    Filters: [{ Name: "image-type", Values: ["SHARED_IMAGE"] }],
  });
  assert.deepStrictEqual(seen.ImageSet.map((i) => i.ImageId), [image]);
  console.log("friend sees", image);
  const friendLaunch = await friend.RunInstances({
    ImageId: image,
    Placement: { Zone: "ap-guangzhou-3" },
  });
  console.log("friend launched", friendLaunch.InstanceIdSet.length);

  const copies = await owner.SyncImages({
    ImageIds: [image],
    DestinationRegions: ["ap-shanghai", "ap-beijing"],
    ImageSetRequired: true,
  });
  assert.deepStrictEqual(copies.ImageSet.map((c) => c.Region).sort(), ["ap-beijing", "ap-shanghai"]);
  console.log("copied to", copies.ImageSet.length, "regions");
  await refused(
    owner,
    "SyncImages",
    { ImageIds: [image], DestinationRegions: ["ap-singapore"] },
    "InvalidRegion.Unavailable",
  );

  await refused(owner, "DeleteImages", { ImageIds: [image] }, "InvalidImageId.InShared");
  await owner.ModifyImageSharePermission({
    ImageId: image,
    AccountIds: [friendId],
    Permission: "CANCEL",
  });
  await owner.DeleteImages({ ImageIds: [image] });
  await refused(
    owner,
    "DescribeImageSharePermission",
    { ImageId: image },
    "InvalidImageId.NotFound",
  );
  console.log("deleted", image);

  await refused(client(ownerSecretId, "wrong-key"), "DescribeRegions", {}, "AuthFailure.SignatureFailure");
  console.log("story complete");
}

story().catch((err) => {
  console.error(`story failed: ${err.code || ""} ${err.message}`);
  process.exit(1);
});
