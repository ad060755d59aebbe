// ciocto's page: paste a posting, see every line tinted by its tag. No framework, no build step.
// Every piece of text from a posting or the server is inserted with textContent, never as HTML,
// so a posting that contains <script> shows as text.
"use strict";

const I18N = {
  en: {
    title: "CIO or CTO?",
    subtitle:
      "Paste a job description: every line is tagged CIO-like, CTO-like or neutral, " +
      "and the gauge shows which way the whole posting leans.",
    pasteLabel: "Paste a job description",
    placeholder: "Paste the whole posting here: title, duties, requirements, benefits…",
    classify: "Classify",
    clear: "Clear",
    classifying: "Classifying…",
    done: (n) => `${n} lines classified.`,
    emptyText: "Paste a job description first.",
    legendTitle: "What the colours mean",
    legendSource:
      "Summarised from the Vietnamese article “CTO vs CIO”; switch to VI for its own words.",
    batchTitle: "Score a CSV of listings",
    batchHint:
      "One listing per row. You get the same CSV back with the leaning columns added.",
    csvFile: "CSV file",
    csvColumn: "Text column",
    guessColumn: "(let ciocto guess)",
    score: "Score and download",
    scoring: "Scoring…",
    scored: (rows, errors) =>
      `Scored ${rows} rows` + (errors ? `, ${errors} could not be read (see the error column).` : "."),
    downloadAgain: "Download again",
    noColumns: "No header row found in this file.",
    resultTitle: "Result",
    linesHint: "Hover over or tap a line to see the terms that decided it.",
    emptyHint:
      "The result shows here: every line of the posting in order, tinted by its tag.",
    footer: "Runs on this computer; nothing is sent anywhere else.",
    countCio: "CIO-like lines",
    countCto: "CTO-like lines",
    countNeutral: "neutral lines",
    tag: { CIO: "CIO", CTO: "CTO", neutral: "neutral" },
    leans: { CIO: "Leans CIO", CTO: "Leans CTO", neutral: "Neutral" },
    share: (pct, side) => `${pct}% ${side}`,
    strongest: (side, n) => `Strongest ${side} line (line ${n}): `,
    noStrongest: (side) => `No ${side}-like line.`,
    evidenceTitle: "Terms that decided it",
    towards: { CIO: "towards CIO", CTO: "towards CTO" },
    noEvidence: "No known terms: the line says nothing about either role.",
    probs: (p) =>
      `CTO ${pct(p.p_cto)}% · CIO ${pct(p.p_cio)}% · neutral ${pct(p.p_neutral)}%`,
    model: (m) => `Model: ${m.name}${m.created ? " (" + m.created.slice(0, 10) + ")" : ""}`,
    serverDown: "The server did not answer. Is `ciocto serve` still running?",
    fixHint:
      "To correct a line: click its CIO / CTO / neutral button, or move with the arrow keys " +
      "and press 1, 2 or 3; Esc undoes.",
    postingLabel: "This whole posting is:",
    you: (tag) => `you: ${tag}`,
    modelSaid: (tag) => `model: ${tag}`,
    teachTitle: "Teach it",
    labelCount: (n, p) => `${n} line and ${p} posting corrections kept.`,
    downloadLabels: "Download my corrections (CSV)",
    train: "Train with my corrections",
    training: (msg, s) => `Training… ${s} s${msg ? " — " + msg : ""}`,
    trained: "Trained: see the comparison below.",
    trainOff:
      "Training from the page is off: start the server with `ciocto serve --allow-train`, " +
      "or download the CSV and run `ciocto train --labels`.",
    compareTitle: "What the new model would do",
    slice: "Rows",
    f1Active: "F1 now",
    f1New: "F1 new",
    better: (name) => `Recommended: promote ${name}.`,
    worse: (name) => `Not recommended: ${name} does worse than the active model.`,
    changedLine: (n, a, b) => `line ${n}: ${a} → ${b}: `,
    noChange: "No line of this posting would change its tag.",
    promote: (name) => `Promote ${name}`,
    keep: (name) => `Keep ${name}`,
    modelsTitle: "Models",
    active: "active",
    use: "Use this one",
    switched: (name) => `Now classifying with ${name}.`,
    nextTitle: "What to label next",
    nextLabel: "Paste unlabelled listings (separate them with a line of ---)",
    suggest: "Find the lines it is least sure of",
    suggested: (n) => `${n} lines to label, least sure first.`,
    legend: [
      {
        tag: "CIO",
        title: "CIO-like: runs the company's own technology",
        points: [
          "The CIO, Chief Information Officer, has the top responsibility for the company's technology infrastructure.",
          "The CIO's main focus is internal: every user has the access and the training they need.",
          "The CIO deals and works with the technology vendors.",
        ],
      },
      {
        tag: "CTO",
        title: "CTO-like: builds technology for the product and its customers",
        points: [
          "The CTO, Chief Technology Officer, is the architect of the company's technology.",
          "The CTO is responsible for merging technology with production.",
          "While the CIO focuses on the internal organisation, the CTO focuses on the customers, outside the company.",
        ],
      },
      {
        tag: "neutral",
        title: "Neutral: says nothing about either role",
        points: [
          "The company blurb, benefits, how to apply and generic requirements. They do not count towards the leaning.",
        ],
      },
    ],
  },
  vi: {
    title: "CIO hay CTO?",
    subtitle:
      "Dán mô tả công việc: mỗi dòng được gắn nhãn giống CIO, giống CTO hoặc trung lập, " +
      "và thước đo cho biết cả tin tuyển dụng nghiêng về phía nào.",
    pasteLabel: "Dán mô tả công việc",
    placeholder: "Dán toàn bộ tin tuyển dụng vào đây: chức danh, mô tả công việc, yêu cầu, quyền lợi…",
    classify: "Phân loại",
    clear: "Xóa",
    classifying: "Đang phân loại…",
    done: (n) => `Đã phân loại ${n} dòng.`,
    emptyText: "Hãy dán mô tả công việc trước.",
    legendTitle: "Ý nghĩa của các màu",
    legendSource: "Trích từ bài viết “CTO vs CIO”.",
    batchTitle: "Chấm điểm tệp CSV tin tuyển dụng",
    batchHint: "Mỗi dòng một tin. Bạn nhận lại đúng tệp CSV đó, thêm các cột xu hướng.",
    csvFile: "Tệp CSV",
    csvColumn: "Cột văn bản",
    guessColumn: "(để ciocto tự đoán)",
    score: "Chấm điểm và tải về",
    scoring: "Đang chấm điểm…",
    scored: (rows, errors) =>
      `Đã chấm ${rows} dòng` + (errors ? `, ${errors} dòng không đọc được (xem cột error).` : "."),
    downloadAgain: "Tải lại",
    noColumns: "Không tìm thấy dòng tiêu đề trong tệp này.",
    resultTitle: "Kết quả",
    linesHint: "Di chuột hoặc chạm vào một dòng để xem các từ đã quyết định nhãn của nó.",
    emptyHint: "Kết quả hiện ở đây: từng dòng của tin tuyển dụng theo thứ tự, tô màu theo nhãn.",
    footer: "Chạy trên máy này; không gửi dữ liệu đi đâu khác.",
    countCio: "dòng giống CIO",
    countCto: "dòng giống CTO",
    countNeutral: "dòng trung lập",
    tag: { CIO: "CIO", CTO: "CTO", neutral: "trung lập" },
    leans: { CIO: "Nghiêng về CIO", CTO: "Nghiêng về CTO", neutral: "Trung lập" },
    share: (pct, side) => `${pct}% ${side}`,
    strongest: (side, n) => `Dòng ${side} rõ nhất (dòng ${n}): `,
    noStrongest: (side) => `Không có dòng nào giống ${side}.`,
    evidenceTitle: "Các từ quyết định",
    towards: { CIO: "về phía CIO", CTO: "về phía CTO" },
    noEvidence: "Không có từ đã biết: dòng này không nói gì về hai vai trò.",
    probs: (p) =>
      `CTO ${pct(p.p_cto)}% · CIO ${pct(p.p_cio)}% · trung lập ${pct(p.p_neutral)}%`,
    model: (m) => `Mô hình: ${m.name}${m.created ? " (" + m.created.slice(0, 10) + ")" : ""}`,
    serverDown: "Máy chủ không trả lời. `ciocto serve` còn chạy không?",
    fixHint:
      "Sửa nhãn một dòng: bấm nút CIO / CTO / trung lập, hoặc dùng phím mũi tên rồi bấm " +
      "1, 2 hoặc 3; Esc để hoàn tác.",
    postingLabel: "Cả tin tuyển dụng này là:",
    you: (tag) => `bạn: ${tag}`,
    modelSaid: (tag) => `mô hình: ${tag}`,
    teachTitle: "Dạy mô hình",
    labelCount: (n, p) => `Đã lưu ${n} dòng và ${p} tin được sửa nhãn.`,
    downloadLabels: "Tải các nhãn đã sửa (CSV)",
    train: "Huấn luyện với các nhãn đã sửa",
    training: (msg, s) => `Đang huấn luyện… ${s} giây${msg ? " — " + msg : ""}`,
    trained: "Đã huấn luyện: xem so sánh bên dưới.",
    trainOff:
      "Máy chủ này không cho huấn luyện từ trang: chạy `ciocto serve --allow-train`, " +
      "hoặc tải CSV rồi chạy `ciocto train --labels`.",
    compareTitle: "Mô hình mới sẽ làm gì",
    slice: "Nhóm dòng",
    f1Active: "F1 hiện tại",
    f1New: "F1 mới",
    better: (name) => `Nên dùng ${name}.`,
    worse: (name) => `Không nên: ${name} kém hơn mô hình đang dùng.`,
    changedLine: (n, a, b) => `dòng ${n}: ${a} → ${b}: `,
    noChange: "Không dòng nào của tin này đổi nhãn.",
    promote: (name) => `Dùng ${name}`,
    keep: (name) => `Giữ ${name}`,
    modelsTitle: "Các mô hình",
    active: "đang dùng",
    use: "Dùng mô hình này",
    switched: (name) => `Đang phân loại bằng ${name}.`,
    nextTitle: "Nên gắn nhãn gì tiếp",
    nextLabel: "Dán các tin chưa gắn nhãn (ngăn cách bằng một dòng ---)",
    suggest: "Tìm các dòng mô hình kém chắc nhất",
    suggested: (n) => `${n} dòng nên gắn nhãn, kém chắc nhất trước.`,
    // The CIO and CTO points are the article's own sentences, word for word.
    legend: [
      {
        tag: "CIO",
        title: "Giống CIO: điều hành công nghệ nội bộ của công ty",
        points: [
          "CIO, hoặc Giám đốc Thông tin, chịu trách nhiệm quản lý cấp cao nhất khi nói đến cơ sở hạ tầng công nghệ của công ty.",
          "Trọng tâm chính của CIO là nội bộ, đảm bảo rằng tất cả người dùng có quyền truy cập bắt buộc và giáo dục cần thiết của họ.",
          "CIO chịu trách nhiệm liên lạc và hợp tác với các nhà cung cấp này.",
        ],
        quoted: true,
      },
      {
        tag: "CTO",
        title: "Giống CTO: xây dựng công nghệ cho sản phẩm và khách hàng",
        points: [
          "CTO, hoặc Giám đốc Công nghệ, là kiến trúc sư cho cơ sở hạ tầng công nghệ của công ty.",
          "CTO chịu trách nhiệm hợp nhất công nghệ với sản xuất.",
          "Trong khi CIO tập trung vào tổ chức nội bộ, CTO tập trung vào cơ sở khách hàng, bên ngoài công ty.",
        ],
        quoted: true,
      },
      {
        tag: "neutral",
        title: "Trung lập: không nói gì về hai vai trò",
        points: [
          "Giới thiệu công ty, quyền lợi, cách ứng tuyển và yêu cầu chung. Các dòng này không được tính vào xu hướng.",
        ],
      },
    ],
  },
};

const $ = (id) => document.getElementById(id);
const pct = (p) => Math.round(p * 100);
const tint = (tag) => "tint-" + String(tag).toLowerCase();

let lang = "en";
let lastResult = null;
let lastScore = null;

function t(key) {
  return I18N[lang][key];
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

// --- language ---

function setLang(next) {
  lang = I18N[next] ? next : "en";
  document.documentElement.lang = lang;
  for (const node of document.querySelectorAll("[data-i18n]")) {
    node.textContent = t(node.dataset.i18n);
  }
  for (const node of document.querySelectorAll("[data-i18n-placeholder]")) {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  }
  for (const b of document.querySelectorAll(".lang button")) {
    b.setAttribute("aria-pressed", String(b.dataset.lang === lang));
  }
  renderLegend();
  if (lastResult) {
    renderResult(lastResult);
    if ($("status").textContent) $("status").textContent = t("done")(lastResult.lines.length);
  }
  if (lastScore) renderScoreStatus(lastScore);
  try {
    localStorage.setItem("ciocto-lang", lang);
  } catch (_) {
    // private windows may refuse storage; the switch still works for this visit
  }
}

function renderLegend() {
  const box = $("legend");
  box.replaceChildren();
  for (const item of t("legend")) {
    const block = el("div", "legend-item " + tint(item.tag));
    block.dataset.tag = item.tag;
    block.append(el("h3", "legend-head", item.title));
    const list = el("ul", "legend-points");
    for (const point of item.points) {
      const li = el("li");
      li.append(item.quoted ? el("q", "article-quote", point) : el("span", null, point));
      list.append(li);
    }
    block.append(list);
    box.append(block);
  }
}

// --- classify ---

async function postJSON(url, body) {
  let res;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch (_) {
    throw new Error(t("serverDown"));
  }
  return readResponse(res);
}

async function readResponse(res) {
  const type = res.headers.get("content-type") || "";
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    if (type.includes("json")) {
      const data = await res.json().catch(() => null);
      if (data && data.error) message = data.error;
    }
    throw new Error(message);
  }
  return type.includes("json") ? res.json() : res;
}

function showError(id, message) {
  const box = $(id);
  box.textContent = message || "";
  box.hidden = !message;
}

async function classify() {
  const text = $("posting").value;
  showError("error", "");
  if (!text.trim()) {
    showError("error", t("emptyText"));
    return;
  }
  const button = $("classify");
  button.disabled = true;
  $("status").textContent = t("classifying");
  try {
    lastResult = await postJSON("/api/classify", { text });
    lastText = text;
    lastPostingId = await postingIdOf(text);
    renderResult(lastResult);
    showPostingLabel();
    $("status").textContent = t("done")(lastResult.lines.length);
  } catch (e) {
    $("status").textContent = "";
    showError("error", e.message);
  } finally {
    button.disabled = false;
  }
}

function strength(line) {
  // How sure the model is of the line's own tag, from a third (a coin toss) to one.
  const p = line.tag === "CTO" ? line.p_cto : line.tag === "CIO" ? line.p_cio : line.p_neutral;
  return Math.max(0, Math.min(1, (p - 1 / 3) / (2 / 3)));
}

function renderResult(r) {
  $("result").hidden = false;
  $("empty").hidden = true;
  renderGauge(r);
  $("count-cio").textContent = r.counts.CIO;
  $("count-cto").textContent = r.counts.CTO;
  $("count-neutral").textContent = r.counts.neutral;
  for (const side of ["CIO", "CTO"]) {
    const box = $("strongest-" + side.toLowerCase());
    box.replaceChildren();
    const n = r.strongest[side];
    if (n === null || n === undefined) {
      box.append(el("span", "muted", t("noStrongest")(side)));
    } else {
      box.append(el("span", "strong-label", t("strongest")(side, n)));
      box.append(el("span", "strong-text", r.strongest_text[side]));
    }
  }
  const list = $("lines");
  list.replaceChildren(...r.lines.map(renderLine));
  $("model").textContent = t("model")(r.model);
}

function renderGauge(r) {
  const gauge = $("gauge");
  const cto = pct(r.p_cto);
  gauge.className = "gauge lean-" + r.leaning.toLowerCase();
  gauge.dataset.leaning = r.leaning;
  gauge.setAttribute("aria-valuenow", String(cto));
  const side = r.leaning === "CIO" ? "CIO" : "CTO";
  const shown = side === "CIO" ? 100 - cto : cto;
  const text = `${t("leans")[r.leaning]} — ${t("share")(shown, side)}`;
  gauge.setAttribute("aria-valuetext", text);
  $("gauge-needle").style.left = `clamp(3px, ${cto}%, calc(100% - 3px))`;
  $("gauge-text").replaceChildren(
    el("strong", "gauge-leaning", t("leans")[r.leaning]),
    el("span", "gauge-share", ` — ${t("share")(shown, side)}`),
  );
}

function renderLine(line) {
  const li = el("li", "line " + tint(line.tag));
  li.dataset.tag = line.tag;
  li.dataset.n = line.n;
  li.tabIndex = 0;
  li.style.setProperty("--strength", strength(line).toFixed(3));
  li.append(el("span", "line-n", line.n));
  li.append(el("span", "line-text", line.text));
  const p = line.tag === "CTO" ? line.p_cto : line.tag === "CIO" ? line.p_cio : line.p_neutral;
  li.append(el("span", "line-tag", `${t("tag")[line.tag]} ${pct(p)}%`));
  li.append(renderEvidence(line));
  li.append(renderFix(li));
  li.addEventListener("click", () => toggleOpen(li));
  li.addEventListener("keydown", (e) => lineKey(e, li));
  showUser(li);
  return li;
}

function toggleOpen(li) {
  const wasOpen = li.classList.contains("open");
  for (const other of document.querySelectorAll(".line.open")) other.classList.remove("open");
  if (!wasOpen) li.classList.add("open");
}

function renderEvidence(line) {
  const box = el("div", "evidence");
  box.setAttribute("role", "tooltip");
  box.append(el("div", "evidence-title", t("evidenceTitle")));
  if (!line.evidence.length) {
    box.append(el("div", "muted", t("noEvidence")));
  } else {
    const list = el("ul", "terms");
    for (const [term, weight] of line.evidence) {
      const side = weight >= 0 ? "CTO" : "CIO";
      const item = el("li", "term " + tint(side));
      item.append(el("span", "term-word", term));
      item.append(el("span", "term-weight", `${weight >= 0 ? "+" : "−"}${Math.abs(weight).toFixed(2)}`));
      item.title = t("towards")[side];
      list.append(item);
    }
    box.append(list);
  }
  box.append(el("div", "evidence-probs", t("probs")(line)));
  return box;
}

// --- corrections ---
// A correction is stored on the server (the registry's labels CSV); the page keeps a copy keyed
// by the line's text, and a per-line stack of earlier labels for Esc.

const KEYS = { 1: "CIO", 2: "CTO", 3: "neutral" };
const corrections = new Map(); // textKey -> {id, label}
const postingLabels = new Map(); // posting id -> {id, label}
const undo = new Map(); // textKey -> [earlier label or null, ...]
let lastText = "";
let lastPostingId = "";
let serving = null;

const textKey = (s) => s.normalize("NFC").toLowerCase().split(/\s+/).filter(Boolean).join(" ");

async function postingIdOf(text) {
  if (!window.crypto || !crypto.subtle) return "";
  const data = new TextEncoder().encode(text.split(/\s+/).filter(Boolean).join(" "));
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return Array.from(hash.slice(0, 6), (b) => b.toString(16).padStart(2, "0")).join("");
}

function renderFix(li) {
  const box = el("span", "fix");
  box.setAttribute("role", "group");
  for (const [key, tag] of Object.entries(KEYS)) {
    const b = el("button", "fix-" + tag.toLowerCase(), t("tag")[tag]);
    b.type = "button";
    b.dataset.tag = tag;
    b.title = `${key}`;
    b.tabIndex = -1;
    b.addEventListener("click", (e) => {
      e.stopPropagation();
      setLabel(li, tag);
    });
    box.append(b);
  }
  box.append(el("span", "user-tag"));
  return box;
}

function lineKey(e, li) {
  if (e.key === "Enter" || e.key === " ") {
    e.preventDefault();
    toggleOpen(li);
  } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
    e.preventDefault();
    const next = e.key === "ArrowDown" ? li.nextElementSibling : li.previousElementSibling;
    if (next) next.focus();
  } else if (KEYS[e.key]) {
    e.preventDefault();
    setLabel(li, KEYS[e.key]);
  } else if (e.key === "Escape") {
    e.preventDefault();
    undoLabel(li);
  }
}

function lineText(li) {
  return li.querySelector(".line-text").textContent;
}

function showUser(li) {
  const c = corrections.get(textKey(lineText(li)));
  const badge = li.querySelector(".user-tag");
  li.classList.toggle("corrected", Boolean(c));
  if (c) {
    li.dataset.user = c.label;
    badge.textContent = t("you")(t("tag")[c.label]);
    li.querySelector(".line-tag").dataset.prefix = t("modelSaid")("");
  } else {
    delete li.dataset.user;
    badge.textContent = "";
  }
}

async function setLabel(li, tag, remember = true) {
  const text = lineText(li);
  const key = textKey(text);
  const before = corrections.get(key);
  const fromPosting = li.closest("#lines") !== null;
  try {
    const row = await postJSON("/api/labels", {
      text,
      label: tag,
      posting_id: fromPosting ? lastPostingId : "",
      line: fromPosting ? Number(li.dataset.n) : null,
    });
    if (remember) {
      if (!undo.has(key)) undo.set(key, []);
      undo.get(key).push(before ? before.label : null);
    }
    corrections.set(key, { id: row.id, label: row.label });
    showAll();
    refreshCount();
  } catch (e) {
    showError("train-error", e.message);
  }
}

async function undoLabel(li) {
  const key = textKey(lineText(li));
  const stack = undo.get(key);
  if (!stack || !stack.length) return;
  const previous = stack.pop();
  if (previous) {
    await setLabel(li, previous, false);
    return;
  }
  const c = corrections.get(key);
  if (!c) return;
  try {
    await send("DELETE", `/api/labels/${encodeURIComponent(c.id)}`);
    corrections.delete(key);
    showAll();
    refreshCount();
  } catch (e) {
    showError("train-error", e.message);
  }
}

async function labelPosting(tag) {
  if (!lastText) return;
  try {
    const row = await postJSON("/api/labels", {
      text: lastText,
      label: tag,
      kind: "posting",
      posting_id: lastPostingId,
    });
    postingLabels.set(lastPostingId, { id: row.id, label: row.label });
    showPostingLabel();
    refreshCount();
  } catch (e) {
    showError("train-error", e.message);
  }
}

function showPostingLabel() {
  const c = postingLabels.get(lastPostingId);
  $("posting-user").textContent = c ? t("you")(t("tag")[c.label]) : "";
}

function showAll() {
  for (const li of document.querySelectorAll(".line")) showUser(li);
}

async function send(method, url) {
  let res;
  try {
    res = await fetch(url, { method });
  } catch (_) {
    throw new Error(t("serverDown"));
  }
  return readResponse(res);
}

async function loadCorrections() {
  const [lines, postings] = await Promise.all([
    fetch("/api/labels?format=json&kind=line").then((r) => r.json()),
    fetch("/api/labels?format=json&kind=posting").then((r) => r.json()),
  ]);
  corrections.clear();
  for (const row of lines.labels) corrections.set(textKey(row.text), row);
  postingLabels.clear();
  for (const row of postings.labels) postingLabels.set(row.posting_id, row);
  refreshCount();
  showAll();
  showPostingLabel();
}

function refreshCount() {
  $("label-count").textContent = t("labelCount")(corrections.size, postingLabels.size);
}

// --- training, comparison, models ---

async function train() {
  showError("train-error", "");
  $("compare").hidden = true;
  $("train").disabled = true;
  try {
    await postJSON("/api/train", { text: lastText || null });
    await followTraining();
  } catch (e) {
    showError("train-error", e.message);
    $("train-status").textContent = "";
  } finally {
    $("train").disabled = false;
  }
}

async function followTraining() {
  for (;;) {
    const job = await fetch("/api/train").then((r) => r.json());
    const last = job.progress.length ? job.progress[job.progress.length - 1] : "";
    if (job.state === "running") {
      $("train-status").textContent = t("training")(last, Math.round(job.seconds));
      await new Promise((ok) => setTimeout(ok, 400));
      continue;
    }
    if (job.state === "failed") throw new Error(job.error);
    $("train-status").textContent = t("trained");
    renderComparison(job.result);
    await loadModels();
    return;
  }
}

const f1 = (v) => (v === null || v === undefined ? "—" : Number(v).toFixed(3));

function renderComparison(r) {
  const body = $("compare-table").querySelector("tbody");
  body.replaceChildren();
  for (const row of r.table) {
    const tr = el("tr");
    tr.append(el("td", null, row.slice), el("td", null, row.n));
    tr.append(el("td", null, f1(row.active_f1)), el("td", null, f1(row.new_f1)));
    body.append(tr);
  }
  const decision = $("decision");
  decision.replaceChildren(
    el("strong", null, r.would_promote ? t("better")(r.name) : t("worse")(r.name)),
    el("span", null, " " + r.reason),
  );
  decision.dataset.promote = String(r.would_promote);
  const changed = $("changed");
  changed.replaceChildren();
  if (!r.changed.length) changed.append(el("li", "muted", t("noChange")));
  for (const c of r.changed) {
    const li = el("li", "changed-line");
    li.append(el("span", "muted", t("changedLine")(c.n, t("tag")[c.old], t("tag")[c.new])));
    li.append(el("span", null, c.text));
    changed.append(li);
  }
  const promote = $("promote");
  promote.textContent = t("promote")(r.name);
  promote.dataset.name = r.name;
  $("keep").textContent = t("keep")(r.active || "");
  $("compare").hidden = false;
}

async function useModel(name) {
  showError("train-error", "");
  try {
    await postJSON("/api/models/use", { name });
    $("train-status").textContent = t("switched")(name);
    $("compare").hidden = true;
    await loadModels();
    if (lastText) await classify();
  } catch (e) {
    showError("train-error", e.message);
  }
}

async function loadModels() {
  const data = await fetch("/api/models").then((r) => r.json());
  serving = data.serving;
  $("train-off").hidden = data.allow_train;
  $("train").disabled = !data.allow_train;
  const list = $("models");
  list.replaceChildren();
  for (const m of data.models) {
    const li = el("li", "model-item" + (m.active ? " active" : ""));
    li.dataset.name = m.name;
    li.append(el("span", "model-name", m.name));
    if (m.active) li.append(el("span", "badge", t("active")));
    li.append(el("span", "muted", ` ${(m.created || "").slice(0, 16)} · F1 ${f1(m.macro_f1)}`));
    if (!m.active && !m.problem) {
      const b = el("button", "use", t("use"));
      b.type = "button";
      b.addEventListener("click", () => useModel(m.name));
      li.append(b);
    }
    if (m.problem) li.append(el("span", "error", " " + m.problem));
    list.append(li);
  }
}

async function suggest() {
  const texts = $("unlabelled").value.split(/\n-{3,}\n/).filter((x) => x.trim());
  $("suggest-status").textContent = "";
  if (!texts.length) return;
  try {
    const data = await postJSON("/api/suggest", { texts });
    const lines = data.suggestions.map((g, i) => ({
      n: i + 1,
      text: g.text,
      tag: g.model_tag,
      p_cio: g.p_cio,
      p_cto: g.p_cto,
      p_neutral: g.p_neutral,
      evidence: [],
    }));
    $("suggestions").replaceChildren(...lines.map(renderLine));
    $("suggest-status").textContent = t("suggested")(lines.length);
  } catch (e) {
    $("suggest-status").textContent = e.message;
  }
}

// --- CSV upload ---

function decodeHead(buffer) {
  const bytes = new Uint8Array(buffer);
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder("utf-16le").decode(bytes);
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder("utf-16be").decode(bytes);
  return new TextDecoder("utf-8").decode(bytes).replace(/^\uFEFF/, "");
}

// The header row of a CSV, quotes and all; the server re-reads the whole file itself.
function csvHeader(text) {
  let firstLine = "";
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (!quoted && (ch === "\n" || ch === "\r")) break;
    firstLine += ch;
  }
  const counts = [",", ";", "\t", "|"].map((d) => [d, countOutsideQuotes(firstLine, d)]);
  counts.sort((a, b) => b[1] - a[1]);
  const delim = counts[0][1] > 0 ? counts[0][0] : ",";
  const cells = [];
  let cell = "";
  quoted = false;
  for (let i = 0; i < firstLine.length; i++) {
    const ch = firstLine[i];
    if (quoted) {
      if (ch === '"' && firstLine[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === delim) {
      cells.push(cell);
      cell = "";
    } else cell += ch;
  }
  cells.push(cell);
  return cells.filter((c, i) => c.trim() || i < cells.length - 1);
}

function countOutsideQuotes(s, d) {
  let n = 0;
  let quoted = false;
  for (const ch of s) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && ch === d) n++;
  }
  return n;
}

// The batch scorer's own list of text-column names, best first; it compares them the same way.
const GUESSES = [
  "description", "jobdescription", "descriptiontext", "body", "text", "content",
  "fulldescription", "details", "jobdetails", "posting", "listing", "mota",
  "motacongviec", "summary",
];
const columnKey = (name) =>
  name.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/đ/gi, "d").toLowerCase()
    .replace(/[^a-z0-9]/g, "");

async function pickFile() {
  const file = $("csv-file").files[0];
  const select = $("csv-column");
  select.replaceChildren();
  select.disabled = true;
  $("score").disabled = true;
  showError("score-error", "");
  lastScore = null;
  $("score-status").textContent = "";
  $("download").hidden = true;
  if (!file) return;
  const columns = csvHeader(decodeHead(await file.slice(0, 65536).arrayBuffer()));
  if (!columns.length || (columns.length === 1 && !columns[0].trim())) {
    showError("score-error", t("noColumns"));
    return;
  }
  const auto = el("option", null, t("guessColumn"));
  auto.value = "";
  auto.dataset.i18n = "guessColumn";
  select.append(auto);
  for (const name of columns) {
    const option = el("option", null, name);
    option.value = name;
    select.append(option);
  }
  const keys = columns.map(columnKey);
  const best = GUESSES.find((g) => keys.filter((k) => k === g).length === 1);
  select.value = best ? columns[keys.indexOf(best)] : "";
  select.disabled = false;
  $("score").disabled = false;
}

async function scoreFile() {
  const file = $("csv-file").files[0];
  if (!file) return;
  const form = new FormData();
  form.append("file", file);
  form.append("text_column", $("csv-column").value);
  showError("score-error", "");
  $("score").disabled = true;
  $("score-status").textContent = t("scoring");
  $("download").hidden = true;
  try {
    let res;
    try {
      res = await fetch("/api/score", { method: "POST", body: form });
    } catch (_) {
      throw new Error(t("serverDown"));
    }
    await readResponse(res);
    const blob = await res.blob();
    const name = /filename="([^"]+)"/.exec(res.headers.get("content-disposition") || "");
    const link = $("download");
    if (link.href) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(blob);
    link.download = name ? name[1] : "scored.csv";
    lastScore = {
      rows: Number(res.headers.get("x-ciocto-rows")),
      errors: Number(res.headers.get("x-ciocto-errors")),
      name: link.download,
    };
    renderScoreStatus(lastScore);
    link.hidden = false;
    link.click();
  } catch (e) {
    $("score-status").textContent = "";
    showError("score-error", e.message);
  } finally {
    $("score").disabled = false;
  }
}

function renderScoreStatus(s) {
  $("score-status").textContent = t("scored")(s.rows, s.errors);
  $("download").textContent = `${t("downloadAgain")}: ${s.name}`;
}

// --- start ---

function start() {
  let saved = null;
  try {
    saved = localStorage.getItem("ciocto-lang");
  } catch (_) {
    saved = null;
  }
  const browser = (navigator.language || "en").toLowerCase().startsWith("vi") ? "vi" : "en";
  setLang(saved || browser);
  for (const b of document.querySelectorAll(".lang button")) {
    b.addEventListener("click", () => setLang(b.dataset.lang));
  }
  $("classify").addEventListener("click", classify);
  $("clear").addEventListener("click", () => {
    $("posting").value = "";
    showError("error", "");
    $("status").textContent = "";
    $("posting").focus();
  });
  $("posting").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) classify();
  });
  $("csv-file").addEventListener("change", pickFile);
  for (const b of document.querySelectorAll(".fix-posting")) {
    b.addEventListener("click", () => labelPosting(b.dataset.tag));
  }
  $("train").addEventListener("click", train);
  $("promote").addEventListener("click", () => useModel($("promote").dataset.name));
  $("keep").addEventListener("click", () => {
    $("compare").hidden = true;
  });
  $("suggest").addEventListener("click", suggest);
  loadCorrections().catch(() => {});
  loadModels().catch(() => {});
  $("score").addEventListener("click", scoreFile);
  fetch("/api/info")
    .then((res) => (res.ok ? res.json() : null))
    .then((info) => {
      if (info) {
        // the band in the gauge where a posting counts as neutral
        const band = $("gauge-neutral");
        band.style.left = `${(0.5 - info.margin) * 100}%`;
        band.style.width = `${info.margin * 200}%`;
      }
    })
    .catch(() => {});
}

document.addEventListener("DOMContentLoaded", start);
