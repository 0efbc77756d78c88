// Shard keys for a sharded MongoDB cluster (mongosh against a mongos: mongosh "$URL" deploy/k8s/infra/shard-keys.js).
// Why these keys: docs/capacity-plan.md ("MongoDB at scale"). Every query the operator API issues carries
// group_id and, for all but group-wide views, estate_id (shared.scope), so reads go to the shards of one group
// or one estate; the hashed tail spreads a big estate's cases over chunks. Collections not listed stay unsharded
// (small: directory, leases, sessions, rollups).
const P = "cc";  // CC_DB_PREFIX
sh.enableSharding(`${P}_archive`);
sh.shardCollection(`${P}_archive.cases`, {group_id: 1, estate_id: 1, _id: 1});
sh.shardCollection(`${P}_archive.queue`, {group_id: 1, estate_id: 1, _id: 1});
sh.shardCollection(`${P}_archive.communications`, {group_id: 1, estate_id: 1, _id: 1});
for (const svc of ["web_intake", "phone_intake", "letter_intake", "fax_intake", "operator_api"]) {
  sh.enableSharding(`${P}_${svc}`);
  sh.shardCollection(`${P}_${svc}.submissions`, {_id: "hashed"});  // looked up by complaint id only
}
for (const [db, coll] of [["assignment", "cases"], ["followup", "callbacks"], ["triage", "classifications"]]) {
  sh.enableSharding(`${P}_${db}`);
  sh.shardCollection(`${P}_${db}.${coll}`, {_id: "hashed"});  // one document per case, read and written by id
}
