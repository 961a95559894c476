// Runs TM Forum's TMF622 v4.0.0 conformance test kit as the kit's own index.js does:
// the collection unmodified on disk, its requests given the configured headers (here
// with a bearer token) and its POST the configured payload (here naming a valid
// offering), the environment's Product_Ordering set to the API's URL. Usage:
//   node run.js <config.json> <report.json>      (newman resolved from NODE_PATH)
// Exit 0 when every assertion passed, 1 when one failed, 2 when the run broke.
const fs = require('fs');
const path = require('path');
const newman = require('newman');

const [configFile, reportFile] = process.argv.slice(2);
const config = JSON.parse(fs.readFileSync(configFile, 'utf8'));
const collection = JSON.parse(
  fs.readFileSync(path.join(__dirname, 'TMF622-ProductOrdering-v4.0.0.testkit.json'), 'utf8')
);
const headers = Object.entries(config.headers).map(([key, value]) => ({ key, value }));
collection.item.forEach((folder) => folder.item.forEach((item) => { item.request.header = headers; }));
collection.item[0].item[0].request.body.raw = JSON.stringify(config.payloads.ProductOrder.POST.payload);
const environment = {
  name: 'TMForumv4',
  values: [{ key: 'Product_Ordering', value: config.url, enabled: true }],
};

newman.run({ collection, environment, insecure: true, reporters: ['cli', 'json'],
  reporter: { json: { export: reportFile } } }, (err, summary) => {
  if (err) {
    console.error('the collection run broke: ' + err);
    process.exit(2);
  }
  process.exit(summary.run.failures.length === 0 && !summary.error ? 0 : 1);
});
