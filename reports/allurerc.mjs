// Allure 3 configuration of the LitePCIe HIL report. report.sh passes the results directories and the
// output; the history file carries trends from one report to the next (keep it between runs, or restore
// it in CI before generating).
//
// singleFile: the report is one self-contained index.html (data and attachments inlined). A multi-file
// report loads its data with fetch(), which browsers refuse for file:// pages: opened from disk it is an
// endless spinner. The single file opens from disk, from a CI artifact or a mail attachment alike.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "allure";

const here = dirname(fileURLToPath(import.meta.url));
// One source for the categories: the same file the test run copies into allure-results/.
const categories = JSON.parse(readFileSync(resolve(here, "categories.json"), "utf-8"));

export default defineConfig({
  name: process.env.LITEPCIE_REPORT_NAME ?? "LitePCIe HIL",
  output: resolve(here, "allure-report"),
  historyPath: process.env.LITEPCIE_REPORT_HISTORY ?? resolve(here, "history", "history.jsonl"),
  historyLimit: 60,
  categories,
  plugins: {
    awesome: {
      options: {
        reportLanguage: "en",
        singleFile: true,
      },
    },
  },
});
