// Parse a feed file with the Podcast Index's podcast-partytime; print what it read as JSON.
// Usage: node tests/js/partytime.js FEED.xml   (install first: npm ci --prefix tests/js)
"use strict";
const fs = require("fs");
const { parseFeed } = require("podcast-partytime");

const xml = fs.readFileSync(process.argv[2], "utf8");
const feed = parseFeed(xml);
if (!feed) {
  process.stderr.write("podcast-partytime could not parse the feed\n");
  process.exit(1);
}
process.stdout.write(JSON.stringify(feed));
