/* 坐席工作台 — the operator console. Plain JS, no build step; talks to /api/v1 with the session cookie. */
"use strict";
const $ = (sel, el = document) => el.querySelector(sel);
const view = () => $("#view");
let ME = null, TERMS = {}, SEV = {}, SUBS = {}, TZ = "Asia/Shanghai", timer = null;
let stream = null, onChange = null;  // server push: one EventSource; the open view decides what a change means

const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const zh = (code) => TERMS[code] || code || "";
const toast = (msg) => { const t = $("#toast"); t.textContent = msg; t.classList.add("show"); setTimeout(() => t.classList.remove("show"), 3000); };

async function api(path, opts = {}) {
  const init = { credentials: "same-origin", headers: {}, ...opts };
  if (opts.json !== undefined) { init.body = JSON.stringify(opts.json); init.headers["content-type"] = "application/json"; init.method = init.method || "POST"; }
  const r = await fetch("/api/v1" + path, init);
  if (r.status === 401 && !path.startsWith("/auth/login")) { ME = null; location.hash = "#/login"; throw new Error("请先登录"); }
  const body = (r.headers.get("content-type") || "").includes("json") ? await r.json() : await r.text();
  if (!r.ok) { const d = body && body.detail; throw new Error(typeof d === "string" ? d : (body.message || JSON.stringify(d))); }
  return body;
}

function countdown(due) {
  if (!due) return ["—", ""];
  const ms = new Date(due) - Date.now(), m = Math.round(Math.abs(ms) / 60000);
  const txt = m >= 1440 ? `${Math.floor(m / 1440)}天${Math.floor((m % 1440) / 60)}时` : m >= 60 ? `${Math.floor(m / 60)}时${m % 60}分` : `${m}分`;
  if (ms < 0) return [`超时 ${txt}`, "due-breach"];
  return [`剩 ${txt}`, ms < 30 * 60000 ? "due-warn" : "due-ok"];
}
function setLive(on) {
  const el = $("#live");
  el.textContent = on ? "● 实时 live" : "○ 重连中 reconnecting";
  el.className = on ? "live-on" : "live-off";
}
function connectLive() {
  if (stream) stream.close();
  stream = new EventSource("/api/v1/events/stream");  // same-origin: the session cookie goes with it
  stream.onopen = () => setLive(true);
  stream.onerror = () => setLive(false);  // EventSource reconnects by itself
  stream.addEventListener("case", (e) => { if (onChange) onChange(JSON.parse(e.data)); });
}
function debounced(fn, ms = 250) {
  let t = null;
  return () => { clearTimeout(t); t = setTimeout(() => fn().catch(() => {}), ms); };
}
const sevBadge = (s) => `<span class="sev-${esc(s)}">${esc(SEV[s] || s || "")}</span>`;

// ---- sign in -------------------------------------------------------------------------------------------
function loginView() {
  $("#top").hidden = true;
  view().innerHTML = `<div class="login card"><h1>登录 Sign in</h1>
    <form id="login" class="grid" style="grid-template-columns:90px 1fr">
      <label for="u">用户名</label><input id="u" name="username" autocomplete="username" required autofocus>
      <label for="p">密码</label><input id="p" name="password" type="password" autocomplete="current-password" required>
      <span></span><button type="submit">登录 Sign in</button>
    </form><p id="err" class="warning" hidden role="alert"></p></div>`;
  $("#login").onsubmit = async (e) => {
    e.preventDefault();
    try {
      await api("/auth/login", { json: { username: $("#u").value, password: $("#p").value } });
      await start(); location.hash = "#/queue";
    } catch (err) { const p = $("#err"); p.hidden = false; p.textContent = err.message; }
  };
}

// ---- queue -----------------------------------------------------------------------------------------------
async function queueView() {
  const estates = await api("/estates");
  view().innerHTML = `<h1>投诉队列 Queue <small class="muted">按最近时限排序 nearest deadline first · 有变化即刷新 updates pushed · <kbd>/</kbd> 搜索</small></h1>
    <div class="filters" role="search">
      <select id="f-estate" aria-label="项目 estate"><option value="">全部项目 All estates</option>${estates.map((e) => `<option value="${esc(e.id)}">${esc(e.name)}</option>`).join("")}</select>
      <select id="f-status" aria-label="状态 status"><option value="">全部状态</option>${["waiting", "assigned", "resolved", "reopened", "closed"].map((s) => `<option value="${s}">${zh(s)}</option>`).join("")}</select>
      <select id="f-category" aria-label="类别 category"><option value="">全部类别</option>${["service", "fees", "community", "emergency", "neighbour"].map((s) => `<option value="${s}">${zh(s)}</option>`).join("")}</select>
      <select id="f-channel" aria-label="渠道 channel"><option value="">全部渠道</option>${["phone", "online", "visit", "proxy", "staff_relay", "letter", "mailbox", "fax", "email"].map((s) => `<option value="${s}">${zh(s)}</option>`).join("")}</select>
      <input id="f-q" placeholder="关键词 keywords" aria-label="关键词 keywords">
      <label><input type="checkbox" id="f-mine"> 我的 mine</label>
    </div>
    <table><caption class="sr-only">投诉队列，按最近时限排序 Queue, nearest deadline first</caption><thead><tr>${["编号", "项目", "类别", "级别", "状态", "处理人", "投诉人", "时限"].map((h) => `<th scope="col">${h}</th>`).join("")}</tr></thead><tbody id="rows"></tbody></table>
    <p class="muted" id="count" aria-live="polite"></p>`;
  const names = Object.fromEntries(estates.map((e) => [e.id, e.name]));
  const load = async () => {
    const p = new URLSearchParams({ page_size: "50" });
    for (const [k, id] of [["estate_id", "#f-estate"], ["status", "#f-status"], ["category", "#f-category"], ["channel", "#f-channel"], ["q", "#f-q"]]) {
      if ($(id).value) p.set(k, $(id).value);
    }
    const data = await api("/complaints?" + p);
    let items = data.items;
    if ($("#f-mine").checked) items = items.filter((c) => c.assignee && c.assignee.staff_id === ME.staff_id);
    $("#rows").innerHTML = items.map((c) => {
      const [t, cls] = countdown(c.next_due);
      return `<tr class="row" tabindex="0" data-id="${esc(c.complaint_id)}"><td>${esc(c.tracking_no)}</td><td>${esc(names[c.estate_id] || c.estate_id)}</td>
        <td>${esc(zh(c.subcategory || c.category))}</td><td>${sevBadge(c.severity)}</td><td>${esc(zh(c.status))}${c.paused ? " ⏸" : ""}${c.escalation_level ? ` <span class="due-breach">督办${c.escalation_level}</span>` : ""}</td>
        <td>${esc(c.assignee ? c.assignee.name : "—")}</td><td>${esc((c.complainant || {}).name)} ${esc((c.complainant || {}).phone)}</td><td class="${cls}">${t}</td></tr>`;
    }).join("");
    $("#count").textContent = `${data.total_exact === false ? "至少" : "共"} ${data.total} 件 · 更新于 ${new Date().toLocaleTimeString()}`;
    for (const tr of view().querySelectorAll("tr.row")) {
      tr.onclick = () => (location.hash = "#/case/" + tr.dataset.id);
      tr.onkeydown = (e) => { if (e.key === "Enter") location.hash = "#/case/" + tr.dataset.id; };
    }
  };
  for (const id of ["#f-estate", "#f-status", "#f-category", "#f-channel", "#f-mine"]) $(id).onchange = load;
  $("#f-q").oninput = () => load();
  await load();
  onChange = debounced(load);  // pushed: reload when a case in my scope changes
  timer = setInterval(() => load().catch(() => {}), 60000);  // countdowns tick; a safety net if the push is down
}

// ---- intake ----------------------------------------------------------------------------------------------
async function intakeView() {
  const estates = await api("/estates");
  view().innerHTML = `<h1>电话受理 Intake</h1>
    <div class="tips"><b>沟通方法</b>：① 倾听 listen — 让业主说完；② 提问 ask — 时间、地点、楼栋房号、诉求；③ 同情 sympathise — 表示理解，不推诿也不轻易承诺；④ 解决 solve — 说明处理人和时限；⑤ 跟踪 follow — 告知投诉编号，处理后回访。</div>
    <div class="cols"><form id="intake" class="grid">
      <label for="i-channel">途径</label><select id="i-channel">${["phone", "visit", "proxy", "staff_relay"].map((c) => `<option value="${c}">${zh(c)}</option>`).join("")}</select>
      <label for="i-estate">项目</label><select id="i-estate" required>${estates.map((e) => `<option value="${esc(e.id)}">${esc(e.name)}</option>`).join("")}</select>
      <label for="i-phone">来电号码</label><input id="i-phone" inputmode="tel" autocomplete="off">
      <label for="i-name">姓名</label><input id="i-name">
      <label for="i-unit">楼栋房号</label><input id="i-unit" placeholder="3栋2单元1201">
      <label for="i-by">委托人/转述员工</label><input id="i-by" placeholder="代理或员工转述时填写">
      <label for="i-text">投诉内容</label><textarea id="i-text" required></textarea>
      <label for="i-demand">诉求</label><input id="i-demand">
      <span></span><button type="submit">提交 Submit</button>
    </form><div><h2>住户档案 Household</h2><div id="household" class="card muted">输入号码或房号后自动查档</div></div></div>`;
  const lookup = async () => {
    const p = new URLSearchParams({ phone: $("#i-phone").value, unit: $("#i-unit").value, estate_id: $("#i-estate").value });
    const f = await api("/households/lookup?" + p);
    if (!f.file_id) { $("#household").innerHTML = "无档案：新住户 new household"; return; }
    const open = f.complaints.filter((c) => !["closed", "resolved"].includes(c.status));
    $("#household").innerHTML = `${f.open_cases ? `<p class="warning" role="alert">⚠ 该户有 ${f.open_cases} 件未办结投诉，可能是重复投诉 likely a repeat</p>` : ""}
      <p>${esc(f.names.join("、"))} ${esc(f.phones.join("、"))} ${esc(f.units.join("、"))}</p>
      <ul>${f.complaints.map((c) => `<li><a href="#/case/${esc(c.complaint_id)}">${esc(c.tracking_no)}</a> ${esc(zh(c.subcategory))} · ${esc(zh(c.status))}</li>`).join("")}</ul>
      ${open.length ? "" : ""}<p class="muted">沟通记录 ${f.communications.length} 条</p>`;
    const building = ($("#i-unit").value.match(/\d+\s*[栋幢座]/) || [])[0];
    if (building) {
      const q = new URLSearchParams({ estate_id: $("#i-estate").value, status: "assigned", q: building, page_size: "5" });
      const near = await api("/complaints?" + q);
      if (near.total) $("#household").insertAdjacentHTML("beforeend", `<p class="warning">⚠ 同楼栋 ${esc(building)} 有 ${near.total} 件处理中的投诉，可能是同一事件 possibly one incident</p>`);
    }
  };
  $("#i-phone").onchange = () => lookup().catch((e) => toast(e.message));
  $("#i-unit").onchange = () => lookup().catch((e) => toast(e.message));
  $("#intake").onsubmit = async (e) => {
    e.preventDefault();
    try {
      const r = await api("/complaints", { json: { channel: $("#i-channel").value, estate_id: $("#i-estate").value, reported_by: $("#i-by").value,
        complainant: { name: $("#i-name").value, phone: $("#i-phone").value, unit: $("#i-unit").value }, text: $("#i-text").value, demand: $("#i-demand").value } });
      toast(`已受理，投诉编号 ${r.tracking_no}`);
      location.hash = "#/case/" + r.complaint_id;
    } catch (err) { toast(err.message); }
  };
}

// ---- case page -------------------------------------------------------------------------------------------
async function caseView(id) {
  let c;
  try { c = await api("/complaints/" + encodeURIComponent(id)); } catch (err) { view().innerHTML = `<p class="warning" role="alert">无法打开：${esc(err.message)}</p>`; return; }
  const staff = await api("/directory/staff?estate_id=" + encodeURIComponent(c.estate_id)).catch(() => []);
  const p = c.complainant || {};
  view().innerHTML = `<h1>投诉 ${esc(c.tracking_no)} · ${sevBadge(c.severity)} · <span id="status">${esc(zh(c.status))}</span></h1>
    <div class="cols"><div class="card"><h2>投诉内容</h2><p>${esc(c.text)}</p><p><b>诉求</b> ${esc(c.demand)}</p>
      <p><b>投诉人</b> ${esc(p.name)} ${esc(p.phone)} ${esc(p.unit)} · <b>途径</b> ${esc(zh(c.channel))} · <b>受理人</b> ${esc(c.receiver)}</p>
      <p><b>类别</b> ${esc(zh(c.category))} / ${esc(zh(c.subcategory))} · <b>判定依据</b> ${esc(((c.triage || {}).reasons || []).join("；"))}</p>
      <p><b>处理人</b> ${esc(c.assignee ? `${c.assignee.department_name} ${c.assignee.name}` : "—")} · <b>时限</b> ${c.sla ? esc(new Date(c.sla.resolve_due || c.next_due || 0).toLocaleString()) : "—"}</p>
      <h2>原件 Originals</h2><ul>${(c.attachments || []).map((a, i) => `<li><a href="/api/v1/complaints/${esc(c.complaint_id)}/originals/${i}" target="_blank">${esc(a.name)}</a> ${a.content_type.startsWith("image/") ? `<br><img class="scan" alt="${esc(a.name)}" src="/api/v1/complaints/${esc(c.complaint_id)}/originals/${i}">` : ""}</li>`).join("") || "<li class=muted>无</li>"}</ul></div>
    <div class="card"><h2>时间线 Timeline</h2><ol class="timeline">${c.timeline.map((t) => `<li><b>${esc(t.title)}</b> <span class="muted">${esc(new Date(t.at).toLocaleString())}</span><br>${esc(t.summary)}</li>`).join("")}</ol></div></div>
    <h2>操作 Actions</h2>
    <div class="actions">
      <button type="button" data-cmd="acknowledge">接单 Take</button>
      <input id="a-note" placeholder="处理结果 / 原因 note" aria-label="处理结果">
      <button type="button" data-cmd="resolve">处理完毕 Resolve</button>
      <select id="a-staff" aria-label="改派给">${staff.map((s) => `<option value="${esc(s.id)}">${esc(s.department_name)} ${esc(s.name)}${s.on_shift ? "" : "（不在班）"}</option>`).join("")}</select>
      <button type="button" data-cmd="reassign" class="secondary">改派 Reassign</button>
      <button type="button" data-cmd="send-back" class="secondary">退单 Send back</button>
      <button type="button" data-cmd="pause" class="secondary">暂停计时 Pause</button><button type="button" data-cmd="resume" class="secondary">恢复 Resume</button>
    </div>
    <div class="actions">
      <select id="cb-reached" aria-label="回访结果"><option value="1">已联系上</option><option value="0">未接通</option></select>
      <select id="cb-sat" aria-label="满意度">${["very_satisfied", "satisfied", "fairly_satisfied", "neutral", "unsatisfied"].map((s) => `<option value="${s}">${zh(s)}</option>`).join("")}</select>
      <button type="button" data-cmd="callbacks">记录回访 Record callback</button>
    </div>
    <div class="actions"><input id="cm-name" placeholder="沟通对象" aria-label="沟通对象"><input id="cm-matter" placeholder="事由与结果" aria-label="事由"><button type="button" data-cmd="communication" class="secondary">添加沟通记录</button></div>
    <details class="card" id="fix-box"><summary>更正判定 Correct the triage</summary>
      <form id="fix" class="grid">
        <label for="fx-sub">细类 subcategory</label><select id="fx-sub">${Object.entries(Object.entries(SUBS).reduce((g, [s, cat]) => ((g[cat] = g[cat] || []).push(s), g), {})).map(([cat, subs]) => `<optgroup label="${esc(zh(cat))}">${subs.map((s) => `<option value="${esc(s)}"${s === c.subcategory ? " selected" : ""}>${esc(zh(s))}</option>`).join("")}</optgroup>`).join("")}</select>
        <label for="fx-sev">级别 severity</label><select id="fx-sev">${Object.keys(SEV).map((s) => `<option value="${esc(s)}"${s === c.severity ? " selected" : ""}>${esc(SEV[s])}</option>`).join("")}</select>
        <label for="fx-valid">有效投诉 valid</label><input type="checkbox" id="fx-valid"${c.valid === false ? "" : " checked"}>
        <label for="fx-note">更正原因 why</label><input id="fx-note" required placeholder="例如：实为燃气泄漏，应为紧急">
        <span></span><button type="submit">提交更正 Submit correction</button>
      </form></details>`;
  onChange = (x) => {
    if (x.complaint_id !== c.complaint_id || $("#changed")) return;
    $("h1").insertAdjacentHTML("afterend", `<p id="changed" class="warning" role="status">此投诉已更新 this case changed · <button type="button" id="reload-case">刷新 Reload</button></p>`);
    $("#reload-case").onclick = () => caseView(id);
  };
  $("#fix").onsubmit = async (e) => {
    e.preventDefault();
    try {
      await api(`/complaints/${encodeURIComponent(c.complaint_id)}/classification`, { json: { subcategory: $("#fx-sub").value, severity: $("#fx-sev").value, valid: $("#fx-valid").checked, note: $("#fx-note").value, by: ME.username } });
      toast("判定已更正 corrected"); refreshSoon();
    } catch (err) { toast(err.message); }
  };
  const by = ME.staff_id || ME.username, note = () => $("#a-note").value || "已处理";
  const here = location.hash;  // re-read the case after a command, unless the operator has moved on
  const refreshSoon = () => setTimeout(() => { if (location.hash === here) caseView(id); }, 800);
  const bodies = {
    acknowledge: () => ({ by }), resolve: () => ({ note: note(), by }), pause: () => ({ by, reason: note() }), resume: () => ({ by }),
    reassign: () => ({ by: ME.username, to_staff_id: $("#a-staff").value, reason: note() }), "send-back": () => ({ by, reason: note() }),
    callbacks: () => ($("#cb-reached").value === "1" ? { reached: true, satisfaction: $("#cb-sat").value, by: ME.username } : { reached: false, by: ME.username }),
  };
  for (const b of view().querySelectorAll("button[data-cmd]")) {
    b.onclick = async () => {
      try {
        if (b.dataset.cmd === "communication") {
          await api("/communications", { json: { estate_id: c.estate_id, counterpart_type: "owner", counterpart_name: $("#cm-name").value || p.name || "业主", phone: p.phone || "", unit: p.unit || "", staff: ME.name, matter: $("#cm-matter").value || "沟通", channel: "phone", complaint_id: c.complaint_id } });
        } else {
          await api(`/complaints/${encodeURIComponent(c.complaint_id)}/${b.dataset.cmd}`, { json: bodies[b.dataset.cmd]() });
        }
        toast("已提交 done"); refreshSoon();
      } catch (err) { toast(err.message); }
    };
  }
}

// ---- callbacks -------------------------------------------------------------------------------------------
async function callbacksView() {
  view().innerHTML = `<h1>回访任务 Callbacks <small class="muted">自动刷新 live</small></h1><label><input type="checkbox" id="cb-mine"> 我受理的 mine</label>
    <table><caption class="sr-only">今日回访任务 Callbacks due</caption><thead><tr>${["编号", "类别", "投诉人", "第几次", "应回访时间", "负责人"].map((h) => `<th scope="col">${h}</th>`).join("")}</tr></thead><tbody id="cb-rows"></tbody></table>`;
  const load = async () => {
    const rows = await api("/callbacks" + ($("#cb-mine").checked ? "?owner=" + encodeURIComponent(ME.username) : ""));
    $("#cb-rows").innerHTML = rows.map((c) => `<tr class="row" tabindex="0" data-id="${esc(c.complaint_id)}"><td>${esc(c.tracking_no)}</td><td>${esc(zh(c.subcategory))}</td><td>${esc((c.complainant || {}).name)} ${esc((c.complainant || {}).phone)}</td>
      <td>${esc(c.callback.attempt)}</td><td>${esc(new Date(c.callback.due_at).toLocaleString())}</td><td>${esc(c.callback.owner || "客服中心")}</td></tr>`).join("");
    for (const tr of view().querySelectorAll("tr.row")) {
      tr.onclick = () => (location.hash = "#/case/" + tr.dataset.id);
      tr.onkeydown = (e) => { if (e.key === "Enter") location.hash = "#/case/" + tr.dataset.id; };
    }
  };
  $("#cb-mine").onchange = load;
  await load();
  onChange = debounced(load);
  timer = setInterval(() => load().catch(() => {}), 60000);
}

// ---- dashboard -------------------------------------------------------------------------------------------
async function dashboardView() {
  // the center's calendar days (rollups are kept per local day), not the browser's UTC date
  const d = (ms) => new Intl.DateTimeFormat("en-CA", { timeZone: TZ }).format(new Date(ms));
  const from = Date.now() - 30 * 86400000, to = Date.now() + 86400000;
  let data;
  try { data = await api(`/analysis/rollup?from=${d(from)}&to=${d(to)}`); } catch (err) { view().innerHTML = `<p class="warning">${esc(err.message)}</p>`; return; }
  const t = data.totals, pct = (x) => (x == null ? "—" : (x * 100).toFixed(1) + "%");
  view().innerHTML = `<h1>看板 Dashboard <small class="muted">近30天受理 received in the last 30 days</small></h1>
    <div class="filters"><div class="card">受理 <b id="k-received">${t.received}</b></div><div class="card">办结 <b>${t.resolved}</b></div><div class="card">时效达标率 <b>${pct(t.sla_compliance)}</b></div>
    <div class="card">满意率 <b>${pct(t.satisfaction_rate)}</b></div><div class="card">重复 <b>${t.repeat}</b> · 重开 <b>${t.reopened}</b></div></div>
    <div class="cols"><div id="c-cat" class="chart" role="img" aria-label="按类别 by category"></div><div id="c-chan" class="chart" role="img" aria-label="按渠道 by channel"></div>
    <div id="c-estate" class="chart" role="img" aria-label="按项目 by estate"></div><div id="c-sub" class="chart" role="img" aria-label="热点楼栋 hotspots"></div></div>`;
  const names = Object.fromEntries((await api("/estates")).map((e) => [e.id, e.name]));
  const bar = (el, obj, title) => echarts.init($(el)).setOption({ animation: false, title: { text: title, textStyle: { fontSize: 13 } }, tooltip: {}, xAxis: { type: "category", data: Object.keys(obj).map(zh) }, yAxis: { type: "value" }, series: [{ type: "bar", data: Object.values(obj) }] });
  bar("#c-cat", t.by_category, "按类别 by category");
  echarts.init($("#c-chan")).setOption({ animation: false, title: { text: "按渠道 by channel", textStyle: { fontSize: 13 } }, tooltip: {}, series: [{ type: "pie", radius: "60%", data: Object.entries(t.by_channel).map(([k, v]) => ({ name: zh(k), value: v })) }] });
  bar("#c-estate", Object.fromEntries(Object.entries(data.per_estate).map(([k, v]) => [names[k] || k, v.received])), "按项目 by estate");
  bar("#c-sub", Object.fromEntries(Object.entries(t.by_building).slice(0, 8)), "热点楼栋 hotspots");
}

// ---- routing ---------------------------------------------------------------------------------------------
async function route() {
  clearInterval(timer);
  onChange = null;
  const [, page, arg] = (location.hash || "#/queue").split("/");
  for (const a of document.querySelectorAll("header nav a")) a.classList.toggle("active", a.getAttribute("href") === `#/${page}`);
  if (page === "login" || !ME) return loginView();
  $("#top").hidden = false;
  const pages = { queue: queueView, intake: intakeView, case: () => caseView(decodeURIComponent(arg || "")), callbacks: callbacksView, dashboard: dashboardView };
  try { await (pages[page] || queueView)(); } catch (err) { if (ME) toast(err.message); }
  view().focus();
}

async function start() {
  ME = await api("/auth/me");
  const terms = await api("/terms");
  TERMS = terms.zh; SEV = terms.severity; SUBS = terms.subcategories; TZ = terms.timezone || TZ;
  connectLive();
  $("#who").textContent = `${ME.name}（${zh(ME.role) || ME.role}）`;
}

$("#logout").onclick = async () => {
  await api("/auth/logout", { method: "POST" }).catch(() => {});
  if (stream) stream.close();
  ME = null; location.hash = "#/login";
};
document.addEventListener("keydown", (e) => {  // "/" jumps to the queue's keyword search, as in most consoles
  if (e.key === "/" && !["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName) && $("#f-q")) { e.preventDefault(); $("#f-q").focus(); }
});
window.addEventListener("hashchange", route);
start().then(route, () => { location.hash = "#/login"; route(); });
