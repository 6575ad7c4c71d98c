// The README's developer map names every folder a maintainer meets, so it cannot drift from the tree.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import { REPO } from "./helpers/ops-process.js";

describe("the README's developer map", () => {
  const readme = readFileSync(join(REPO, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Developing sessiond"));
  const map = /```\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
  const entries = map.split("\n").map((line) => line.split(/\s{2,}/)[0]!.trim());

  it("names every top-level folder and every part of server/", () => {
    // Build outputs and tools' folders, all gitignored: dist/ (npm run build), .bench-build/ (npm run bench).
    const ignored = new Set(["node_modules", "dist", ".bench-build", ".git", ".scratch"]);
    const top = readdirSync(REPO, { withFileTypes: true })
      .filter((d) => d.isDirectory() && !ignored.has(d.name) && d.name !== ".ci")
      .map((d) => d.name);
    for (const name of top) {
      expect(
        entries.some((e) => e === `${name}/` || e.startsWith(`${name}/`)),
        `${name}/ in the map`,
      ).to.equal(true);
    }
    for (const d of readdirSync(join(REPO, "server"), { withFileTypes: true })) {
      const name = `server/${d.name}${d.isDirectory() ? "/" : ""}`;
      // cluster.ts is named with main.ts, the entry that starts it.
      if (d.name === "cluster.ts") expect(map).to.include("cluster.ts");
      else expect(entries, `${name} in the map`).to.include(name);
    }
  });

  it("names only folders that exist", () => {
    for (const entry of entries.filter((e) => e.endsWith("/") && e !== "dist/")) {
      expect(readdirSync(join(REPO, entry)), entry).to.be.an("array");
    }
  });
});
