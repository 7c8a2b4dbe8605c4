// Runs once, on an empty data directory (docker-entrypoint-initdb.d), as the root user: creates
// chat-service's user with readWrite on `chat` only, from the credentials inside its MONGO_URL secret,
// and (when mounted) a monitoring user for mongodb-exporter. Same logic as mongo-init in the compose files.
const fs = require('fs');
function ensureUser(file, roles) {
  if (!fs.existsSync(file)) { print('skip ' + file + ' (not mounted)'); return; }
  const url = new URL(fs.readFileSync(file, 'utf8').trim());
  const dbName = decodeURIComponent(url.pathname.slice(1)) || 'admin';
  const user = decodeURIComponent(url.username);
  const pwd = decodeURIComponent(url.password);
  const target = db.getSiblingDB(dbName);
  if (target.getUser(user)) { target.updateUser(user, {pwd: pwd, roles: roles}); }
  else { target.createUser({user: user, pwd: pwd, roles: roles}); }
  print('mongo user ' + user + '@' + dbName + ' ready');
}
ensureUser('/run/secrets/chat_mongo_url', [{role: 'readWrite', db: 'chat'}]);
ensureUser('/run/secrets/mongodb_exporter_uri', [{role: 'clusterMonitor', db: 'admin'}, {role: 'read', db: 'local'}]);
