// dashboard.test.cjs — browser tests of the weir dashboard (dashboard/),
// run by e2e/dashboard.sh against weir-server on a store with two churn
// runs: RUN_A (blessed) and RUN_B (one training step: NOT_BLESSED).
// Drives Debian's Chromium through playwright-core; prints "ok - ..." /
// "not ok - ..." lines and keeps a screenshot of each view in SHOTS.
//
// env: URL (the server), RUN_A, RUN_B, SHOTS (a directory), CHROMIUM
// (default /usr/bin/chromium).
'use strict';
const { chromium } = require('playwright-core');
const path = require('path');

const URL = process.env.URL.replace(/\/$/, '');
const { RUN_A, RUN_B, SHOTS } = process.env;
let failed = 0;

async function check(what, fn) {
  try {
    const r = await fn();
    if (r === false) throw new Error('condition false');
    console.log(`ok - ${what}`);
  } catch (e) {
    failed++;
    console.log(`not ok - ${what}`);
    console.log(`  # ${String(e && e.message ? e.message : e).split('\n').slice(0, 3).join('\n  # ')}`);
  }
}
function assert(cond, msg) { if (!cond) throw new Error(msg); }

async function api(p) {
  const r = await fetch(`${URL}/api/v1/${p}`);
  if (!r.ok) throw new Error(`GET ${p}: ${r.status}`);
  return r.json();
}
const output = (run, node, key) => run.node_list.find((n) => n.node === node).outputs[key][0].id;

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 404/.test(m.text())) errors.push(`console: ${m.text()}`); });
  let shot = 0;
  const snap = (name) => page.screenshot({ path: path.join(SHOTS, `${String(++shot).padStart(2, '0')}-${name}.png`), fullPage: true });
  const go = async (hash) => {
    await page.goto(`${URL}/${hash}`);
    await page.waitForFunction(() => document.getElementById('main').getAttribute('aria-busy') === 'false', null, { timeout: 15000 });
  };
  const runA = await api(`runs/${RUN_A}`);
  const runB = await api(`runs/${RUN_B}`);

  // ------------------------------------------------------------ run list
  await go('#/runs');
  await check('run list: both churn runs are listed with pipeline churn and a COMPLETE badge', async () => {
    for (const id of [RUN_A, RUN_B]) {
      const row = page.locator(`tr[data-run="${id}"]`);
      assert(await row.count() === 1, `no row for ${id}`);
      assert((await row.locator('td').nth(2).textContent()) === 'churn', 'pipeline column is not churn');
      assert(await row.locator('.badge[data-state="COMPLETE"]').count() === 1, 'no COMPLETE badge');
    }
  });
  await check('run list: newest first by default; sorting by run id reorders', async () => {
    const ids = () => page.locator('tr[data-run]').evaluateAll((rows) => rows.map((r) => r.dataset.run));
    const before = await ids();
    assert(before.indexOf(RUN_B) < before.indexOf(RUN_A), `default order ${before}`);
    await page.click('button[data-sort="run_id"]');
    const after = await ids();
    assert(JSON.stringify(after) === JSON.stringify([...after].sort()), `not sorted by id: ${after}`);
    assert(await page.locator('th[aria-sort="ascending"] button[data-sort="run_id"]').count() === 1, 'aria-sort not set');
  });
  await snap('run-list');
  await check('run list: the state filter FAILED hides them, pipeline churn shows both', async () => {
    await page.selectOption('#f-state', 'FAILED');
    await page.waitForSelector('p.empty');
    assert(await page.locator('tr[data-run]').count() === 0, 'rows left with state FAILED');
    await page.selectOption('#f-state', '');
    await page.selectOption('#f-pipeline', 'churn');
    await page.waitForSelector(`tr[data-run="${RUN_A}"]`);
    assert(await page.locator('tr[data-run]').count() === 2, 'not 2 rows for pipeline churn');
    assert(page.url().includes('pipeline=churn'), 'the filter is not in the URL');
  });

  // ---------------------------------------------------------- run detail
  await go(`#/runs/${RUN_A}`);
  await check('run detail: the DAG has 10 nodes, all Complete, and edges', async () => {
    await page.waitForSelector('svg.dag');
    const states = await page.locator('svg.dag g.dag-node').evaluateAll((gs) => gs.map((g) => `${g.dataset.node}=${g.dataset.state}`));
    assert(states.length === 10, `${states.length} nodes: ${states}`);
    assert(states.every((x) => x.endsWith('=Complete')), `states ${states}`);
    for (const n of ['example_gen', 'statistics_gen', 'trainer', 'evaluator', 'pusher', 'bulk_inferrer']) assert(states.some((x) => x.startsWith(`${n}=`)), `no node ${n}`);
    assert(await page.locator('svg.dag path.edge').count() >= 9, 'too few edges');
    assert(await page.locator('svg.dag path.edge[data-from="trainer"][data-to="evaluator"]').count() === 1, 'no trainer→evaluator edge');
  });
  await check('run detail: key results say BLESSED for the first run', async () =>
    (await page.locator('.result[data-blessed]').getAttribute('data-blessed')) === 'BLESSED');
  await snap('run-detail-blessed');
  await go(`#/runs/${RUN_B}`);
  await check('run detail: the second run shows 5 Cached and 5 Complete nodes, NOT_BLESSED', async () => {
    await page.waitForSelector('svg.dag');
    const states = await page.locator('svg.dag g.dag-node').evaluateAll((gs) => gs.map((g) => g.dataset.state));
    assert(states.length === 10, `${states.length} nodes`);
    assert(states.filter((x) => x === 'Cached').length === 5 && states.filter((x) => x === 'Complete').length === 5, `states ${states}`);
    assert((await page.locator('.result[data-blessed]').getAttribute('data-blessed')) === 'NOT_BLESSED', 'not NOT_BLESSED');
  });
  await snap('run-detail-not-blessed');

  // live refresh: the API answers RUNNING (trainer Running) twice, then the truth
  await check('run detail: a RUNNING run is polled and its DAG updates to the final states', async () => {
    let calls = 0;
    await page.route(`**/api/v1/runs/${RUN_A}`, async (route) => {
      calls++;
      if (calls > 2) return route.continue();
      const resp = await route.fetch();
      const d = await resp.json();
      d.state = 'RUNNING';
      for (const n of d.node_list) if (['trainer'].includes(n.node)) n.state = 'Running';
      d.node_list = d.node_list.filter((n) => !['evaluator', 'infra_validator', 'pusher', 'bulk_inferrer'].includes(n.node));
      return route.fulfill({ response: resp, json: d });
    });
    await go(`#/runs/${RUN_A}`);
    assert(await page.locator('svg.dag g.dag-node[data-node="trainer"][data-state="Running"]').count() === 1, 'trainer not drawn Running');
    assert(await page.locator('svg.dag g.dag-node').count() === 6, 'not 6 nodes while running');
    assert(/refreshing/.test(await page.locator('p.live').textContent()), 'no live-refresh note');
    await snap('run-detail-running');
    await page.waitForSelector('svg.dag g.dag-node[data-node="trainer"][data-state="Complete"]', { timeout: 10000 });
    await page.waitForFunction(() => document.querySelectorAll('svg.dag g.dag-node').length === 10, null, { timeout: 10000 });
    assert(calls >= 3, `only ${calls} calls`);
    await page.unroute(`**/api/v1/runs/${RUN_A}`);
  });

  // ---------------------------------------------------------- node detail
  await go(`#/runs/${RUN_A}`);
  await check('node detail: clicking the trainer in the DAG opens it, with reported eval_auc, inputs/outputs and the log', async () => {
    await page.click('svg.dag a.dag-link:has(g[data-node="trainer"])');
    await page.waitForFunction(() => document.querySelector('h1') && document.querySelector('h1').textContent.includes('trainer') && document.getElementById('main').getAttribute('aria-busy') === 'false');
    const text = await page.locator('main').textContent();
    assert(text.includes('eval_auc'), 'no eval_auc');
    assert(await page.locator('a[data-type="Model"]').count() >= 1, 'no link to the Model output');
    assert(await page.locator('a[data-type="Examples"]').count() >= 1, 'no link to the Examples input');
    await page.waitForFunction(() => /step/.test(document.querySelector('pre.log').textContent));
  });
  await snap('node-detail');
  await go(`#/runs/${RUN_B}/nodes/statistics_gen`);
  await check('node detail: a cached node says cache hit and has no log', async () => {
    assert(await page.locator('.badge.cache').count() === 1, 'no cache badge');
    assert(/came from the cache/.test(await page.locator('main').textContent()), 'no cache note');
  });

  // ----------------------------------------------------------- statistics
  const stats = output(runA, 'statistics_gen', 'statistics');
  await go(`#/artifacts/${stats}`);
  await check("statistics: 'tenure' has an SVG histogram with bars", async () => {
    const bars = await page.locator('svg.histogram[data-feature="tenure"] rect.bar').count();
    assert(bars >= 5, `${bars} bars`);
    const hs = await page.locator('svg.histogram[data-feature="tenure"] rect.bar').evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('height'))));
    assert(hs.some((x) => x > 10), 'all bars flat');
  });
  await check("statistics: 'contract' has its top values drawn (Month-to-month first)", async () => {
    const svg = page.locator('svg.topvalues[data-feature="contract"]');
    assert(await svg.locator('rect.bar').count() === 3, 'not 3 bars');
    assert((await svg.locator('text.tick').first().textContent()).startsWith('Month-to-month'), 'first value is not Month-to-month');
  });
  await snap('statistics-train');
  await check('statistics: train vs eval side by side, both splits in the histogram', async () => {
    await page.click('a[data-compare="train,eval"]');
    await page.waitForSelector('svg.histogram[data-feature="tenure"] rect.bar[data-series="eval"]');
    assert(await page.locator('svg.histogram[data-feature="tenure"] rect.bar[data-series="train"]').count() >= 5, 'no train bars');
    assert(await page.locator('svg.topvalues[data-feature="contract"] rect.bar[data-series="eval"]').count() === 3, 'no eval top values');
    assert(/train vs eval/.test(await page.locator('h2').first().textContent()), 'heading');
  });
  await snap('statistics-train-vs-eval');

  // ------------------------------------------------- schema and anomalies
  await go(`#/artifacts/${output(runA, 'schema_gen', 'schema')}`);
  await check('schema: a table with contract and its string domain', async () =>
    /Two year/.test(await page.locator('tr[data-feature="contract"]').textContent()));
  await snap('schema');
  await go(`#/artifacts/${output(runA, 'example_validator', 'anomalies')}`);
  await check('anomalies: no anomalies, per split', async () =>
    (await page.locator('section.anomalies').count()) === 2 && /No anomalies/.test(await page.locator('h2').first().textContent()));
  await snap('anomalies');

  // ----------------------------------------------------------- evaluation
  await go(`#/artifacts/${output(runB, 'evaluator', 'evaluation')}`);
  await check('evaluation: the second model is NOT_BLESSED, prominently, with the failed threshold', async () => {
    const d = page.locator('#decision');
    assert((await d.getAttribute('data-blessed')) === 'NOT_BLESSED', 'data-blessed');
    assert(await d.isVisible(), 'not visible');
    assert(/NOT_BLESSED/.test(await d.locator('.decision-word').textContent()), 'word');
    const size = await d.locator('.decision-word').evaluate((e) => parseFloat(getComputedStyle(e).fontSize));
    assert(size >= 24, `font size ${size}`);
    assert(/below the lower bound/.test(await d.textContent()), 'no reason');
  });
  await check('evaluation: metrics per slice (Overall, contract and tenure slices)', async () => {
    assert(await page.locator('tr[data-slice="Overall"]').count() === 1, 'no Overall');
    assert(await page.locator('tr[data-slice^="contract:"]').count() === 3, 'no contract slices');
    assert(await page.locator('tr[data-slice^="tenure:"]').count() >= 2, 'no tenure slices');
  });
  await snap('evaluation-not-blessed');
  await go(`#/artifacts/${output(runA, 'evaluator', 'evaluation')}`);
  await check('evaluation: the first model is BLESSED', async () =>
    (await page.locator('#decision').getAttribute('data-blessed')) === 'BLESSED');
  await snap('evaluation-blessed');

  // -------------------------------------------------------------- curves
  await go(`#/artifacts/${output(runA, 'trainer', 'model_run')}`);
  await check('training curves: loss chart with train and eval lines, and an eval-metrics chart', async () => {
    const loss = page.locator('svg[data-chart="loss"]');
    assert(await loss.locator('g.series[data-series="train loss"] path.line').count() === 1, 'no train loss line');
    assert(await loss.locator('g.series[data-series="eval loss"] path.line').count() === 1, 'no eval loss line');
    const d = await loss.locator('g.series[data-series="train loss"] path.line').getAttribute('d');
    assert((d.match(/L/g) || []).length >= 5, `train loss has too few points: ${d}`);
    assert(await page.locator('svg[data-chart="eval-metrics"] g.series[data-series="eval auc"]').count() === 1, 'no eval auc');
  });
  await snap('training-curves');
  await go(`#/artifacts/${output(runA, 'trainer', 'model')}`);
  await check('model: summary with label, hidden layers and signatures', async () => {
    const t = await page.locator('main').textContent();
    assert(/churn/.test(t) && /Hidden layers/.test(t) && /serving_default/.test(t), 'missing summary parts');
  });
  await snap('model');

  // ------------------------------------------------------------- lineage
  const lin = 'svg.lineage';
  const modelId = output(runA, 'trainer', 'model');
  const examplesId = output(runA, 'example_gen', 'examples');
  const trainerExec = runA.node_list.find((n) => n.node === 'trainer').execution_id;
  const rectX = (sel) => page.locator(`${sel} rect`).first().evaluate((r) => Number(r.getAttribute('x')));
  await check('lineage: the model page draws its upstream lineage by default (depth 3), the model highlighted', async () => {
    await page.waitForSelector(`${lin}[data-direction="upstream"]`);
    assert(await page.locator('button[data-direction="upstream"][aria-pressed="true"]').count() === 1, 'Upstream is not pressed');
    assert((await page.inputValue('#lineage-depth')) === '3', 'the depth is not 3');
    const focal = page.locator(`${lin} g.lin-node.focal`);
    assert(await focal.count() === 1, `${await focal.count()} highlighted nodes`);
    assert((await focal.getAttribute('data-id')) === String(modelId), `the highlighted node is ${await focal.getAttribute('data-id')}, not ${modelId}`);
    assert((await page.locator('#lineage-note').getAttribute('data-more')) === 'false', 'depth 3 says deeper nodes exist');
  });
  await check('lineage: upstream, the Trainer execution (left of the model, linked to its node page) and an Examples artifact', async () => {
    const trainer = `${lin} g.lin-execution[data-type="Trainer"]`;
    assert(await page.locator(trainer).count() === 1, `${await page.locator(trainer).count()} Trainer executions`);
    assert((await page.locator(trainer).getAttribute('data-node')) === 'trainer', 'the Trainer execution does not name its node');
    const href = await page.locator(`${lin} a:has(g.lin-execution[data-type="Trainer"])`).getAttribute('href');
    assert(href === `#/runs/${RUN_A}/nodes/trainer`, `Trainer links to ${href}`);
    assert(await page.locator(`${lin} path.edge[data-from="e${trainerExec}"][data-to="a${modelId}"]`).count() === 1, 'no Trainer → model edge');
    assert(await rectX(trainer) < await rectX(`${lin} g.focal`), 'the Trainer is not left of the model');
    assert(await page.locator(`${lin} g.lin-artifact[data-type="Examples"][data-id="${examplesId}"]`).count() === 1, 'ExampleGen\'s Examples not reached');
    // the second run's cached nodes recorded their outputs too: one ExampleGen execution per run
    const gens = await page.locator(`${lin} a:has(g.lin-execution[data-type="CsvExampleGen"])`).evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    assert(gens.includes(`#/runs/${RUN_A}/nodes/example_gen`), `ExampleGen executions link to ${gens}`);
  });
  await snap('lineage');
  await check('lineage: depth 1 shows the Trainer alone and says deeper nodes exist', async () => {
    await page.fill('#lineage-depth', '1');
    await page.press('#lineage-depth', 'Enter');
    await page.waitForSelector(`${lin}[data-executions="1"]`, { timeout: 10000 });
    assert(await page.locator(`${lin} g.lin-execution[data-type="Trainer"]`).count() === 1, 'no Trainer');
    const note = page.locator('#lineage-note');
    assert((await note.getAttribute('data-more')) === 'true', 'data-more is not true');
    assert(/Deeper nodes exist/.test(await note.textContent()), `note: ${await note.textContent()}`);
    await page.fill('#lineage-depth', '3');
    await page.press('#lineage-depth', 'Enter');
    await page.waitForFunction(() => Number(document.querySelector('svg.lineage').dataset.executions) > 1, null, { timeout: 10000 });
    assert((await note.getAttribute('data-more')) === 'false', 'depth 3 again still says deeper nodes exist');
  });
  await check('lineage: artifact boxes are links: the Examples box opens that artifact, its lineage centred on it', async () => {
    const a = page.locator(`${lin} a:has(g.lin-artifact[data-id="${examplesId}"])`);
    assert((await a.getAttribute('href')) === `#/artifacts/${examplesId}`, `href ${await a.getAttribute('href')}`);
    await a.click();
    await page.waitForSelector(`${lin} g.lin-node.focal[data-id="${examplesId}"]`, { timeout: 10000 });
    assert(page.url().endsWith(`#/artifacts/${examplesId}`), `url ${page.url()}`);
    assert(/^Examples/.test(await page.locator('h1').textContent()), 'the heading is not Examples');
  });
  await check('lineage: downstream of the examples reaches the Trainer and a Model, right of the examples', async () => {
    await page.click('button[data-direction="downstream"]');
    await page.waitForSelector(`${lin}[data-direction="downstream"]`, { timeout: 10000 });
    assert(await page.locator('button[data-direction="downstream"][aria-pressed="true"]').count() === 1, 'Downstream is not pressed');
    assert(await page.locator(`${lin} g.lin-execution[data-type="Trainer"]`).count() >= 1, 'no Trainer');
    const model = `${lin} g.lin-artifact[data-type="Model"][data-id="${modelId}"]`;
    assert(await page.locator(model).count() === 1, 'the first run\'s Model is not reached');
    assert(await rectX(model) > await rectX(`${lin} g.focal`), 'the Model is not right of the examples');
    assert(await page.locator(`${lin} path.edge`).count() >= 10, 'too few edges');
  });
  await snap('lineage-downstream');

  // ------------------------------------------------------------- compare
  await go('#/runs');
  await check('compare: ticking two runs and pressing Compare opens both side by side', async () => {
    await page.check(`tr[data-run="${RUN_A}"] input[type=checkbox]`);
    await page.check(`tr[data-run="${RUN_B}"] input[type=checkbox]`);
    await page.click('text=Compare selected runs');
    await page.waitForSelector('#cmp-states');
    await page.waitForFunction(() => document.getElementById('main').getAttribute('aria-busy') === 'false');
    assert(await page.locator('svg.dag').count() === 2, 'not two DAGs');
    assert(await page.locator('#cmp-states tbody tr').count() === 10, 'not 10 node rows');
    const sg = await page.locator('#cmp-states tr[data-node="statistics_gen"]').textContent();
    assert(/Complete/.test(sg) && /Cached/.test(sg), `statistics_gen row: ${sg}`);
  });
  await check('compare: key metrics side by side (evaluator.blessed 1 vs 0, trainer.eval_auc differs)', async () => {
    const cells = async (k) => page.locator(`#cmp-metrics tr[data-metric="${k}"] td`).allTextContents();
    const b = await cells('evaluator.blessed');
    const a = await cells('trainer.eval_auc');
    const both = [b, a].map((c) => c.join(' | '));
    const [ba, bb] = b;
    assert(new Set([ba, bb]).size === 2 && [ba, bb].includes('1') && [ba, bb].includes('0'), `blessed ${both[0]}`);
    assert(a[0] !== a[1], `eval_auc ${both[1]}`);
    assert(await page.locator('svg[data-chart="cmp-auc"] g.series').count() === 2, 'no AUC curves of both runs');
  });
  await snap('compare');

  await check('no JavaScript errors in the console', async () => {
    assert(errors.length === 0, errors.join('; '));
  });
  await browser.close();
  process.exit(failed ? 1 : 0);
})().catch((e) => {
  console.log(`not ok - the browser test crashed: ${e && e.stack ? e.stack.split('\n').slice(0, 4).join(' / ') : e}`);
  process.exit(2);
});
