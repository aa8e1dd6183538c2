// The wizard in a real browser: Debian's Chromium driven by playwright-core,
// against a real erasured started by web/wizard_test.go, which then checks
// the store. Each step's screenshot goes to $SCREENSHOTS when set.
import { chromium } from "playwright-core";

const env = process.env;
const base = env.ERASURE_URL;
const token = env.ERASURE_TOKEN;
const shots = env.SCREENSHOTS;

function check(ok, what) {
  if (!ok) throw new Error("FAIL: " + what);
  console.log("ok: " + what);
}

const browser = await chromium.launch({
  executablePath: env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, acceptDownloads: true });
  // The browser's notifications, recorded.
  await context.addInitScript(() => {
    window.__notes = [];
    window.Notification = class {
      static permission = "granted";
      static requestPermission() {
        return Promise.resolve("granted");
      }
      constructor(title, opts) {
        window.__notes.push(`${title}: ${opts?.body ?? ""}`);
      }
    };
  });
  const page = await context.newPage();
  page.setDefaultTimeout(60_000);
  const shot = async (name) => {
    if (shots) await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  };

  // Signed in by the token in the fragment, which leaves the address bar.
  await page.goto(`${base}/#token=${token}`);
  await page.getByRole("heading", { name: "Delete profiles", level: 1 }).waitFor();
  check(!page.url().includes("token="), "the token left the address bar");
  await shot("1-choose");

  // Every control has a name a screen reader reads.
  const unnamed = async () =>
    page.evaluate(() =>
      [...document.querySelectorAll("input, select, button, textarea, progress")]
        .filter((el) => el.offsetParent !== null)
        .filter((el) => !((el.labels && el.labels.length && el.labels[0].textContent.trim()) || el.getAttribute("aria-label") || el.textContent.trim()))
        .map((el) => el.outerHTML.slice(0, 80)),
    );
  check((await unnamed()).length === 0, "every control of the first step is labelled");
  // The keyboard alone gets from the first step to the upload.
  for (let i = 0; i < 20 && !(await page.evaluate(() => document.activeElement?.textContent === "Next: upload the file")); i++) {
    await page.keyboard.press("Tab");
  }
  await page.keyboard.press("Enter");
  await page.getByLabel(/CSV or Excel file/).waitFor();
  check(true, "Tab and Enter reach the upload step");
  await page.getByRole("button", { name: "Back" }).press("Enter");

  // A CSV deletion by e-mail, end to end, with the keyboard where a user would.
  async function runFile({ path, type, region, expectMatched, action = "delete", shotPrefix, column }) {
    await page.getByRole("tab", { name: "Delete or unsubscribe" }).click();
    if (action === "delete") await page.getByLabel(/Delete them/).check();
    else await page.getByLabel(/Unsubscribe them/).check();
    await page.getByLabel("Unique Identifier in the file").selectOption({ label: type });
    if (region) await page.getByLabel(/Country of numbers/).fill(region);
    await page.getByRole("button", { name: "Next: upload the file" }).press("Enter");
    await page.getByLabel(/CSV or Excel file/).setInputFiles(path);
    await page.getByRole("table", { name: /Columns of the file/ }).waitFor();
    if (shotPrefix) await shot(`${shotPrefix}-map`);
    check((await unnamed()).length === 0, "every control of the mapping step is labelled");
    if (column) await page.getByRole("radio", { name: column }).check();
    await page.getByRole("button", { name: "Next: overview" }).click();
    await page.getByRole("heading", { name: /Overview/ }).waitFor();
    const matched = await page.getByTestId("matched").textContent();
    check(matched === String(expectMatched), `the overview of ${path} shows ${expectMatched} profiles to delete (shows ${matched})`);
    if (shotPrefix) await shot(`${shotPrefix}-overview`);
  }

  // A user who may see only the newsletter section is told that deleting
  // removes data in sections they cannot see.
  {
    const restricted = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    const p = await restricted.newPage();
    await p.goto(`${base}/#token=${env.NEWSLETTER_TOKEN}`);
    await p.getByRole("button", { name: "Next: upload the file" }).click();
    await p.getByLabel(/CSV or Excel file/).setInputFiles(env.CSV_PATH);
    await p.getByRole("button", { name: "Next: overview" }).click();
    await p.getByRole("heading", { name: /Overview/ }).waitFor();
    const hidden = await p.getByText(/sections you cannot see/).textContent();
    check(hidden.startsWith("3 of these profiles also hold data in sections you cannot see"), `a newsletter-only user is warned about hidden sections (${hidden})`);
    if (shots) await p.screenshot({ path: `${shots}/2-hidden-sections.png`, fullPage: true });
    await p.getByRole("button", { name: "Cancel" }).click();
    await restricted.close();
  }

  await runFile({ path: env.CSV_PATH, type: "E-mail address", expectMatched: 4, shotPrefix: "2-csv" });
  check((await page.getByText(/sections you cannot see/).count()) === 0, "no hidden-section warning for an owner");
  await page.getByRole("button", { name: "Delete 4 profiles" }).click();
  await page.getByRole("heading", { name: /Finished/ }).waitFor();
  const result = await page.getByTestId("job-result").textContent();
  check(result.startsWith("4 deleted, 2 not found, 1 invalid, 1 duplicates"), `the finished job reports its rows (${result})`);
  check((await page.getByRole("status").textContent()).includes("4 profiles deleted"), "a notice says the job completed");
  await shot("3-csv-finished");

  // The import history, with the job's Delete Report and the whole report as a file.
  await page.getByRole("tab", { name: "Import history" }).click();
  await page.getByRole("button", { name: "Delete Report" }).first().click();
  await page.getByRole("table", { name: "Deleted: 4" }).waitFor();
  check((await page.getByRole("table", { name: "Not found: 2" }).count()) === 1, "the report lists the rows not found");
  await page.getByRole("button", { name: "Prepare the whole report as a file" }).click();
  const link = page.getByRole("link", { name: /Download .*report.*\.csv/ });
  const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
  const chunks = [];
  for await (const c of await download.createReadStream()) chunks.push(c);
  const csv = Buffer.concat(chunks).toString("utf8");
  check(csv.includes("DELETED") && csv.split("\r\n").length >= 9, "the downloaded report holds every row");
  await shot("4-history-report");

  // Cancel at the overview deletes nothing (the Go test checks the store).
  await page.getByRole("tab", { name: "Delete or unsubscribe" }).click();
  await page.getByRole("button", { name: "Start another" }).click();
  await runFile({ path: env.CANCEL_PATH, type: "E-mail address", expectMatched: 3 });
  await page.getByRole("button", { name: "Cancel" }).click();
  await page.getByRole("button", { name: "Next: upload the file" }).waitFor();
  check(true, "Cancel at the overview went back to the start");

  // An e-mail column previewed as phone numbers: the overview warns.
  await runFile({ path: env.CSV_PATH, type: "Phone number", expectMatched: 0, column: "Column B Email" });
  const warning = await page.getByRole("alert").first().textContent();
  check(/look like e-mail/.test(warning), `previewing e-mail addresses as phone numbers warns (${warning})`);
  await shot("2-wrong-type-warning");
  await page.getByRole("button", { name: "Cancel" }).click();
  await page.getByRole("button", { name: "Next: upload the file" }).waitFor();

  // Unsubscribing by the same file keeps the profiles.
  await runFile({ path: env.CANCEL_PATH, type: "E-mail address", expectMatched: 3, action: "unsubscribe" });
  await page.getByRole("button", { name: "Unsubscribe 3 profiles" }).click();
  await page.getByRole("heading", { name: /Finished/ }).waitFor();
  const unsub = await page.getByTestId("job-result").textContent();
  check(unsub.startsWith("2 unsubscribed"), `the unsubscribe opted out 2 profiles, one had already (${unsub})`);
  await page.getByRole("button", { name: "Start another" }).click();

  // An XLSX deletion by phone numbers, with a country for national numbers.
  await runFile({ path: env.XLSX_PATH, type: "Phone number", region: "SE", expectMatched: 5, shotPrefix: "5-xlsx" });
  check((await unnamed()).length === 0, "every control of the overview is labelled");
  // The user goes to another browser tab while this job runs.
  await page.evaluate(() => Object.defineProperty(document, "hidden", { configurable: true, get: () => true }));
  await page.getByRole("button", { name: "Delete 5 profiles" }).click();
  await page.getByRole("heading", { name: /Finished/ }).waitFor();
  check((await page.getByTestId("job-result").textContent()).startsWith("5 deleted"), "the XLSX job deleted 5 profiles");
  const notes = await page.evaluate(() => window.__notes);
  check(notes.length === 1 && notes[0].includes("5 profiles deleted"), `the browser notified the user in another tab (${notes})`);
  await page.evaluate(() => Object.defineProperty(document, "hidden", { configurable: true, get: () => false }));
  await page.getByRole("button", { name: "Start another" }).click();

  // Segments: the article's tagged test addresses, counted, shown,
  // exported and deleted straight from the segment.
  await page.getByRole("tab", { name: "Segments" }).click();
  await page.getByLabel("Tag", { exact: true }).fill("internal_test");
  await page.getByRole("button", { name: "Count profiles" }).click();
  await page.getByTestId("segment-count").waitFor();
  check((await unnamed()).length === 0, "every control of the segment screen is labelled");
  check((await page.getByTestId("segment-count").textContent()).startsWith("4 profiles match"), "the segment counts the 4 tagged profiles");
  await page.getByRole("button", { name: "Show profiles" }).click();
  const rows = page.getByRole("table", { name: "First matching profiles" }).getByRole("row");
  await rows.nth(4).waitFor();
  check((await rows.count()) === 5, "the 4 profiles are shown");
  await page.getByRole("button", { name: "Export as a file" }).click();
  const exportLink = page.getByRole("link", { name: /Download segment-export/ });
  const [exported] = await Promise.all([page.waitForEvent("download"), exportLink.click()]);
  const parts = [];
  for await (const c of await exported.createReadStream()) parts.push(c);
  const exportCSV = Buffer.concat(parts).toString("utf8");
  check(exportCSV.startsWith("\ufeffEmail,Key type,Key\r\nperson0050@example.com,email,person0050@example.com\r\n") && exportCSV.split("\r\n").length === 6,
    "the export holds the 4 profiles' identifiers");
  await shot("8-segment");
  await page.getByRole("button", { name: "Delete these profiles…" }).click();
  await page.getByRole("heading", { name: "Delete 4 profiles?" }).waitFor();
  await shot("9-segment-confirm");
  await page.getByRole("region", { name: "Confirm the deletion" }).getByRole("button", { name: "Delete 4 profiles" }).click();
  await page.getByRole("heading", { name: /Finished/ }).waitFor();
  check((await page.getByTestId("job-result").last().textContent()).startsWith("4 deleted"), "the segment's 4 profiles were deleted");
  await page.getByRole("tab", { name: "Delete or unsubscribe" }).click();

  // A refused file says why in words.
  await page.getByRole("button", { name: "Next: upload the file" }).click();
  await page.getByLabel(/CSV or Excel file/).setInputFiles({ name: "people.pdf", mimeType: "application/pdf", buffer: Buffer.from("%PDF-1.4") });
  const alert = await page.getByRole("alert").textContent();
  check(alert.includes("Only CSV and Excel (.xlsx) files can be used"), `a PDF is refused in words (${alert})`);
  await shot("6-refused-file");
  await page.getByRole("button", { name: "Back" }).click();

  // A 50 MB file goes up in chunks with a progress bar, is mapped, and
  // Cancel discards it.
  await page.getByRole("button", { name: "Next: upload the file" }).click();
  await page.getByLabel(/CSV or Excel file/).setInputFiles(env.BIG_PATH);
  const bar = page.getByRole("progressbar");
  await bar.waitFor();
  check(Number(await bar.getAttribute("max")) === Number(env.BIG_SIZE), `the progress bar counts the ${env.BIG_SIZE} bytes of the 50 MB file`);
  await page.getByRole("table", { name: /Columns of the file/ }).waitFor({ timeout: 180_000 });
  check(true, "the 50 MB file was uploaded and mapped");
  await page.getByRole("button", { name: "Cancel" }).click();
  await page.getByRole("button", { name: "Next: upload the file" }).waitFor();

  // A long job, and a reload in the middle of it: the page re-attaches.
  await runFile({ path: env.LONG_PATH, type: "E-mail address", expectMatched: Number(env.LONG_MATCHED) });
  await page.getByRole("button", { name: /Delete .* profiles/ }).click();
  await page.getByRole("heading", { name: /Running/ }).waitFor();
  await shot("7-running");
  await page.reload();
  await page.getByRole("heading", { name: /Running|Finished/ }).waitFor();
  check(true, "after a reload mid-job the page follows the job again");
  await page.getByRole("heading", { name: /Finished/ }).waitFor();
  check((await page.getByTestId("job-result").textContent()).startsWith(`${env.LONG_MATCHED} deleted`), "the re-attached job finished with every match deleted");

  // CORS: a page on the allowed origin may call the service; one on
  // another origin may not.
  const call = async (origin) => {
    const p = await context.newPage();
    await p.goto(origin);
    const r = await p.evaluate(async ([url, tok]) => {
      try {
        const res = await fetch(url + "/erasure.v1.ErasureService/ListJobs", {
          method: "POST",
          headers: { "Content-Type": "application/json", Authorization: "Bearer " + tok },
          body: "{}",
        });
        return "status " + res.status;
      } catch (e) {
        return "refused: " + e.message;
      }
    }, [base, token]);
    await p.close();
    return r;
  };
  check((await call(env.ALLOWED_ORIGIN)) === "status 200", "a page on the allowed origin calls the service");
  const other = await call(env.OTHER_ORIGIN);
  check(other.startsWith("refused"), `a page on another origin is refused by CORS (${other})`);
} catch (e) {
  console.error(e);
  failed = true;
} finally {
  await browser.close();
}
if (failed) process.exitCode = 1;
