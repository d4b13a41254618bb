// Segments: the list with member counts, one segment (its condition, members and export),
// and the builder: write a condition in the segment language (docs/segments.md) or assemble
// it clause by clause, and see how many profiles meet it as you type.
import { api, ApiError, downloadUrl } from "../core/api.js";
import { clear, debounce, errorBox, field, h, table, toast } from "../core/dom.js";
import { ago, dateTime, number, t } from "../core/i18n.js";

export const needs = ["segments.read"];

export const messages = {
  en: {
    "seg.title": "Segments",
    "seg.new": "New segment",
    "seg.name": "Name",
    "seg.members": "Members",
    "seg.condition": "Condition",
    "seg.description": "Description",
    "seg.updated": "Changed",
    "seg.timezone": "Time zone",
    "seg.version": "Version",
    "seg.none": "No segments yet.",
    "seg.edit": "Edit",
    "seg.export": "Export members (CSV)",
    "seg.sample": "Some members",
    "seg.entered": "Entered",
    "seg.email": "Email",
    "seg.phone": "Phone",
    "seg.person": "Profile",
    "seg.nomembers": "Nobody meets this condition now.",
    "seg.builder.new": "New segment",
    "seg.builder.edit": "Edit segment {name}",
    "seg.condition.hint": 'The segment language, e.g. country = "TH" and lifetime_value >= 20000. Line breaks are spaces.',
    "seg.name.hint": "Letters, digits, spaces and _ . : - (how other segments refer to it).",
    "seg.timezone.hint": "For dates, days and anniversaries, e.g. Asia/Bangkok. Empty: the server's.",
    "seg.assemble": "Add a clause",
    "seg.kind": "Test",
    "seg.kind.trait": "A value of the profile",
    "seg.kind.event": "An event",
    "seg.trait": "Value name",
    "seg.op": "Comparison",
    "seg.value": "Compare with",
    "seg.value.hint": "Numbers, true and false are written as they are; anything else becomes quoted text.",
    "seg.event": "Event name",
    "seg.did": "did it",
    "seg.didwhat": "Whether they did it",
    "seg.didnot": "did not do it",
    "seg.days": "In the last (days)",
    "seg.days.hint": "Empty: ever.",
    "seg.join": "Join with",
    "seg.join.and": "and (both must hold)",
    "seg.join.or": "or (either may hold)",
    "seg.add": "Add to condition",
    "seg.add.missing": "Give a value name or an event name first.",
    "seg.live": "Live result",
    "seg.live.empty": "Type a condition to see how many profiles meet it.",
    "seg.live.loading": "Counting…",
    "seg.live.count": "{n} profiles meet this condition now",
    "seg.live.took": "counted in {ms} ms",
    "seg.error.at": "Line {line}, column {column}",
    "seg.save": "Save segment",
    "seg.saved": "Segment {name} saved: {n} members.",
    "seg.readonly": "Your role may read segments but not change them.",
  },
  th: {
    "seg.title": "กลุ่มลูกค้า",
    "seg.new": "สร้างกลุ่มลูกค้าใหม่",
    "seg.name": "ชื่อ",
    "seg.members": "สมาชิก",
    "seg.condition": "เงื่อนไข",
    "seg.description": "คำอธิบาย",
    "seg.updated": "แก้ไขล่าสุด",
    "seg.timezone": "เขตเวลา",
    "seg.version": "เวอร์ชัน",
    "seg.none": "ยังไม่มีกลุ่มลูกค้า",
    "seg.edit": "แก้ไข",
    "seg.export": "ส่งออกรายชื่อสมาชิก (CSV)",
    "seg.sample": "ตัวอย่างสมาชิก",
    "seg.entered": "เข้ากลุ่มเมื่อ",
    "seg.email": "อีเมล",
    "seg.phone": "โทรศัพท์",
    "seg.person": "โปรไฟล์",
    "seg.nomembers": "ขณะนี้ไม่มีใครตรงตามเงื่อนไขนี้",
    "seg.builder.new": "สร้างกลุ่มลูกค้าใหม่",
    "seg.builder.edit": "แก้ไขกลุ่มลูกค้า {name}",
    "seg.condition.hint": 'เขียนด้วยภาษาเงื่อนไขของกลุ่มลูกค้า เช่น country = "TH" and lifetime_value >= 20000 การขึ้นบรรทัดใหม่นับเป็นช่องว่าง',
    "seg.name.hint": "ตัวอักษร ตัวเลข ช่องว่าง และ _ . : - (ใช้อ้างถึงจากกลุ่มอื่น)",
    "seg.timezone.hint": "ใช้กับวันที่ วัน และวันครบรอบ เช่น Asia/Bangkok เว้นว่างไว้เพื่อใช้ค่าของเซิร์ฟเวอร์",
    "seg.assemble": "เพิ่มเงื่อนไขย่อย",
    "seg.kind": "สิ่งที่ทดสอบ",
    "seg.kind.trait": "ค่าในโปรไฟล์",
    "seg.kind.event": "เหตุการณ์",
    "seg.trait": "ชื่อค่า",
    "seg.op": "การเปรียบเทียบ",
    "seg.value": "เปรียบเทียบกับ",
    "seg.value.hint": "ตัวเลข true และ false เขียนตามนั้น ค่าอื่นจะกลายเป็นข้อความในเครื่องหมายคำพูด",
    "seg.event": "ชื่อเหตุการณ์",
    "seg.did": "เคยทำ",
    "seg.didwhat": "เคยทำหรือไม่",
    "seg.didnot": "ไม่เคยทำ",
    "seg.days": "ภายใน (วัน) ที่ผ่านมา",
    "seg.days.hint": "เว้นว่าง: ตลอดเวลา",
    "seg.join": "เชื่อมด้วย",
    "seg.join.and": "and (ต้องเป็นจริงทั้งสองข้อ)",
    "seg.join.or": "or (ข้อใดข้อหนึ่งเป็นจริง)",
    "seg.add": "เพิ่มลงในเงื่อนไข",
    "seg.add.missing": "โปรดระบุชื่อค่าหรือชื่อเหตุการณ์ก่อน",
    "seg.live": "ผลลัพธ์ทันที",
    "seg.live.empty": "พิมพ์เงื่อนไขเพื่อดูจำนวนโปรไฟล์ที่ตรงตามเงื่อนไข",
    "seg.live.loading": "กำลังนับ…",
    "seg.live.count": "ขณะนี้มี {n} โปรไฟล์ที่ตรงตามเงื่อนไขนี้",
    "seg.live.took": "นับเสร็จใน {ms} มิลลิวินาที",
    "seg.error.at": "บรรทัด {line} คอลัมน์ {column}",
    "seg.save": "บันทึกกลุ่มลูกค้า",
    "seg.saved": "บันทึกกลุ่มลูกค้า {name} แล้ว: สมาชิก {n} ราย",
    "seg.readonly": "บทบาทของคุณดูกลุ่มลูกค้าได้ แต่แก้ไขไม่ได้",
  },
  vi: {
    "seg.title": "Phân khúc",
    "seg.new": "Phân khúc mới",
    "seg.name": "Tên",
    "seg.members": "Thành viên",
    "seg.condition": "Điều kiện",
    "seg.description": "Mô tả",
    "seg.updated": "Thay đổi",
    "seg.timezone": "Múi giờ",
    "seg.version": "Phiên bản",
    "seg.none": "Chưa có phân khúc nào.",
    "seg.edit": "Sửa",
    "seg.export": "Xuất danh sách thành viên (CSV)",
    "seg.sample": "Một số thành viên",
    "seg.entered": "Vào lúc",
    "seg.email": "Email",
    "seg.phone": "Điện thoại",
    "seg.person": "Hồ sơ",
    "seg.nomembers": "Hiện không ai thỏa mãn điều kiện này.",
    "seg.builder.new": "Phân khúc mới",
    "seg.builder.edit": "Sửa phân khúc {name}",
    "seg.condition.hint": 'Ngôn ngữ điều kiện của phân khúc, ví dụ country = "TH" and lifetime_value >= 20000. Xuống dòng được tính là khoảng trắng.',
    "seg.name.hint": "Chữ cái, chữ số, khoảng trắng và _ . : - (cách phân khúc khác tham chiếu đến nó).",
    "seg.timezone.hint": "Dùng cho ngày, thứ và ngày kỷ niệm, ví dụ Asia/Ho_Chi_Minh. Để trống: theo máy chủ.",
    "seg.assemble": "Thêm một mệnh đề",
    "seg.kind": "Kiểm tra",
    "seg.kind.trait": "Một giá trị của hồ sơ",
    "seg.kind.event": "Một sự kiện",
    "seg.trait": "Tên giá trị",
    "seg.op": "Phép so sánh",
    "seg.value": "So sánh với",
    "seg.value.hint": "Số, true và false được viết nguyên; giá trị khác thành văn bản trong dấu ngoặc kép.",
    "seg.event": "Tên sự kiện",
    "seg.did": "đã thực hiện",
    "seg.didwhat": "Đã thực hiện hay chưa",
    "seg.didnot": "chưa thực hiện",
    "seg.days": "Trong (số ngày) gần đây",
    "seg.days.hint": "Để trống: bất kỳ lúc nào.",
    "seg.join": "Nối bằng",
    "seg.join.and": "and (cả hai đều đúng)",
    "seg.join.or": "or (một trong hai đúng)",
    "seg.add": "Thêm vào điều kiện",
    "seg.add.missing": "Hãy nhập tên giá trị hoặc tên sự kiện trước.",
    "seg.live": "Kết quả trực tiếp",
    "seg.live.empty": "Nhập điều kiện để xem có bao nhiêu hồ sơ thỏa mãn.",
    "seg.live.loading": "Đang đếm…",
    "seg.live.count": "Hiện có {n} hồ sơ thỏa mãn điều kiện này",
    "seg.live.took": "đếm trong {ms} ms",
    "seg.error.at": "Dòng {line}, cột {column}",
    "seg.save": "Lưu phân khúc",
    "seg.saved": "Đã lưu phân khúc {name}: {n} thành viên.",
    "seg.readonly": "Vai trò của bạn được xem phân khúc nhưng không được thay đổi.",
  },
};

const TRAITS = [
  "country", "province", "city", "language", "gender", "first_name", "last_name", "email", "phone",
  "birth_date", "lifetime_value", "order_count", "average_order_value", "value_tier", "churn_risk",
  "open_tickets", "rfm.label", "rfm.score", "first_purchase_at", "last_purchase_at", "last_contact_at",
  "preferred_channel", "favourite_categories", "purchase_channels", "tags",
];
const EVENTS = ["Order Completed", "Product Viewed", "Product Added", "Checkout Started"];
const OPERATORS = ["=", "!=", ">=", "<=", ">", "<", "contains", "starts with", "ends with", "exists"];

// app.css sets textareas in a monospace font; Thai and Vietnamese fall back to the bundled fonts
const MONO = "font-family:ui-monospace,monospace,'Noto Sans Thai','Noto Sans'";
const segmentPath = (name) => `/api/segments/${encodeURIComponent(name)}`;
const segmentHash = (name) => `#/segments/${encodeURIComponent(name)}`;

export async function render(view, ctx) {
  const rest = ctx.params[0];
  if (!rest) return showList(view, ctx);
  const editing = rest.match(/^(.+)\/edit$/);
  if (rest === "new" || editing) {
    if (!ctx.can("segments.write")) {
      view.append(h("h1", {}, t("seg.title")), h("p", { class: "notice" }, t("seg.readonly")));
      return;
    }
    return showBuilder(view, ctx, editing ? editing[1] : null);
  }
  return showSegment(view, ctx, rest);
}

// A value the role may not see comes masked from the server; mark it so it reads as such.
function personal(ctx, kind, value) {
  if (value === null || value === undefined || value === "") return "–";
  return ctx.masks(kind) ? h("span", { class: "masked", title: t("common.masked") }, value) : value;
}

async function showList(view, ctx) {
  const { segments } = await api("/api/segments");
  view.append(
    h(
      "div",
      { class: "row", style: "justify-content:space-between" },
      h("h1", {}, t("seg.title")),
      ctx.can("segments.write") ? h("a", { class: "button", href: "#/segments/new" }, t("seg.new")) : null,
    ),
    table(
      [
        { label: t("seg.name"), value: (s) => h("a", { href: segmentHash(s.name) }, s.name) },
        { label: t("seg.members"), value: (s) => number(s.members), num: true },
        { label: t("seg.condition"), value: (s) => h("code", { style: `${MONO};overflow-wrap:anywhere` }, s.condition) },
        { label: t("seg.description"), value: (s) => s.description || "" },
        { label: t("seg.updated"), value: (s) => h("time", { datetime: s.updated_at, title: dateTime(s.updated_at) }, ago(s.updated_at)) },
      ],
      segments,
      { caption: t("seg.title"), empty: t("seg.none") },
    ),
  );
  view.querySelectorAll("tbody tr").forEach((row, i) => (row.dataset.segment = segments[i].name));
}

function membersTable(ctx, rows, { entered }) {
  return table(
    [
      { label: t("seg.person"), value: (m) => h("a", { href: `#/profiles/${encodeURIComponent(m.id)}` }, personal(ctx, "name", m.name || m.id)) },
      { label: t("seg.email"), value: (m) => personal(ctx, "email", m.email) },
      { label: t("seg.phone"), value: (m) => personal(ctx, "phone", m.phone) },
      entered ? { label: t("seg.entered"), value: (m) => dateTime(m.entered_at) } : null,
    ].filter(Boolean),
    rows,
    { caption: t("seg.sample"), empty: t("seg.nomembers") },
  );
}

async function showSegment(view, ctx, name) {
  const [segment, page] = await Promise.all([
    api(segmentPath(name)),
    api(`${segmentPath(name)}/members`, { query: { limit: 10 } }),
  ]);
  const members = page.members.map((m) => ({ ...m, id: m.profile_id }));
  view.append(
    h("h1", {}, segment.name),
    h(
      "div",
      { class: "row" },
      ctx.can("segments.write") ? h("a", { class: "button", href: `${segmentHash(name)}/edit` }, t("seg.edit")) : null,
      ctx.can("segments.export")
        ? h("a", { class: "button secondary", id: "seg-export", href: downloadUrl(`${segmentPath(name)}/export`, { format: "csv" }), download: "" }, t("seg.export"))
        : null,
    ),
    h(
      "div",
      { class: "grid", style: "margin-top:1rem" },
      h("section", { class: "card", "data-stat": "members" }, h("h2", {}, t("seg.members")), h("div", { class: "stat" }, number(segment.members))),
      h(
        "section",
        { class: "card" },
        h(
          "dl",
          { class: "kv" },
          h("dt", {}, t("seg.timezone")),
          h("dd", {}, segment.timezone),
          h("dt", {}, t("seg.version")),
          h("dd", {}, number(segment.version)),
          h("dt", {}, t("seg.updated")),
          h("dd", {}, dateTime(segment.updated_at)),
          segment.description ? [h("dt", {}, t("seg.description")), h("dd", {}, segment.description)] : null,
        ),
      ),
    ),
    h("section", { class: "card", style: "margin-top:1rem" }, h("h2", {}, t("seg.condition")), h("pre", { id: "seg-condition", style: `${MONO};white-space:pre-wrap;overflow-wrap:anywhere;margin:0` }, segment.condition)),
    h("section", { class: "card", style: "margin-top:1rem" }, h("h2", {}, t("seg.sample")), membersTable(ctx, members, { entered: true })),
  );
}

// A value typed in the form as a literal of the language: numbers and booleans as they are,
// anything else as JSON text (the language reads JSON escapes).
function literal(text) {
  const value = text.trim();
  if (/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(value) || value === "true" || value === "false") return value;
  return JSON.stringify(value);
}

function clauseOf(parts) {
  if (parts.kind === "event") {
    if (!parts.event.trim()) return null;
    const days = parseInt(parts.days, 10);
    const did = `did ${JSON.stringify(parts.event.trim())}${days > 0 ? ` in last ${days} ${days === 1 ? "day" : "days"}` : ""}`;
    return parts.did === "not" ? `not ${did}` : did;
  }
  const name = parts.trait.trim();
  if (!name) return null;
  return parts.op === "exists" ? `${name} exists` : `${name} ${parts.op} ${literal(parts.value)}`;
}

function assembler(area, onChange) {
  const kind = h(
    "select",
    {},
    h("option", { value: "trait" }, t("seg.kind.trait")),
    h("option", { value: "event" }, t("seg.kind.event")),
  );
  const trait = h("input", { list: "seg-traits", autocomplete: "off", size: 18 });
  const op = h("select", {}, OPERATORS.map((o) => h("option", { value: o }, o)));
  const value = h("input", { size: 16 });
  const event = h("input", { list: "seg-events", autocomplete: "off", size: 18 });
  const did = h("select", {}, h("option", { value: "did" }, t("seg.did")), h("option", { value: "not" }, t("seg.didnot")));
  const days = h("input", { type: "number", min: 1, max: 100000, size: 6, inputmode: "numeric" });
  const join = h("select", {}, h("option", { value: "and" }, t("seg.join.and")), h("option", { value: "or" }, t("seg.join.or")));
  const problem = h("div", { "aria-live": "polite" });
  const traitFields = h("div", { class: "row", style: "align-items:end" }, field(t("seg.trait"), trait), field(t("seg.op"), op), field(t("seg.value"), value, t("seg.value.hint")));
  const eventFields = h("div", { class: "row", style: "align-items:end", hidden: true }, field(t("seg.event"), event), field(t("seg.didwhat"), did), field(t("seg.days"), days, t("seg.days.hint")));
  const joinField = field(t("seg.join"), join);
  const sync = () => {
    traitFields.hidden = kind.value !== "trait";
    eventFields.hidden = kind.value !== "event";
    value.disabled = op.value === "exists";
    joinField.hidden = !area.value.trim();
  };
  kind.addEventListener("change", sync);
  op.addEventListener("change", sync);
  area.addEventListener("input", sync);
  const add = (e) => {
    e.preventDefault();
    const clause = clauseOf({ kind: kind.value, trait: trait.value, op: op.value, value: value.value, event: event.value, did: did.value, days: days.value });
    if (!clause) {
      clear(problem, errorBox(t("seg.add.missing")));
      return;
    }
    clear(problem);
    const current = area.value.trim();
    area.value = current ? `${current}\n  ${join.value} ${clause}` : clause;
    sync();
    onChange();
  };
  sync();
  return h(
    "fieldset",
    { class: "card stack", id: "seg-assemble" },
    h("legend", {}, t("seg.assemble")),
    field(t("seg.kind"), kind),
    traitFields,
    eventFields,
    joinField,
    problem,
    h("button", { type: "button", class: "secondary", onclick: add }, t("seg.add")),
    h("datalist", { id: "seg-traits" }, TRAITS.map((n) => h("option", { value: n }))),
    h("datalist", { id: "seg-events" }, EVENTS.map((n) => h("option", { value: n }))),
  );
}

// The mistake the API found, under the line it is on, with a caret at its column.
function parseError(text, error) {
  const line = error.body && error.body.line;
  const column = error.body && error.body.column;
  const box = h("div", { class: "error", role: "alert", id: "seg-error" }, error.message);
  if (line && column) {
    box.dataset.line = line;
    box.dataset.column = column;
    const source = text.split("\n")[line - 1] ?? "";
    box.append(
      h("div", { class: "seg-at" }, h("strong", {}, t("seg.error.at", { line, column }))),
      h("pre", { style: `${MONO};margin:.25rem 0 0;white-space:pre;overflow-x:auto` }, `${source}\n${" ".repeat(Math.max(0, column - 1))}^`),
    );
  }
  return box;
}

async function showBuilder(view, ctx, name) {
  const existing = name ? await api(segmentPath(name)) : null;
  const nameInput = h("input", { required: true, maxlength: 100, value: existing ? existing.name : "", disabled: !!existing, autocomplete: "off" });
  const description = h("input", { maxlength: 2000, value: existing ? existing.description || "" : "", size: 40 });
  const timezone = h("input", { maxlength: 100, value: existing ? existing.timezone : "", placeholder: "Asia/Bangkok", size: 20 });
  const area = h("textarea", { id: "seg-text", rows: 5, spellcheck: "false", autocapitalize: "off", style: MONO, value: existing ? existing.condition : "" });
  const live = h("div", { id: "seg-live", "aria-live": "polite", "data-state": "idle" });
  const result = h("div", { "aria-live": "assertive" });
  let asked = 0;

  const preview = async () => {
    const text = area.value;
    const mine = ++asked;
    if (!text.trim()) {
      live.dataset.state = "idle";
      delete live.dataset.count;
      live.dataset.condition = text;
      clear(live, h("p", { class: "muted" }, t("seg.live.empty")));
      return;
    }
    live.dataset.state = "loading";
    live.setAttribute("aria-busy", "true");
    try {
      const found = await api("/api/segments/preview", { method: "POST", body: { condition: text, sample: 10, timezone: timezone.value.trim() || undefined } });
      if (mine !== asked || !ctx.isCurrent()) return;
      clear(
        live,
        h("p", { class: "stat", id: "seg-count" }, number(found.count)),
        h("p", {}, t("seg.live.count", { n: found.count }), " ", h("span", { class: "muted" }, t("seg.live.took", { ms: Math.round(found.took_ms) }))),
        h("h3", {}, t("seg.sample")),
        membersTable(ctx, found.sample, { entered: false }),
      );
      live.dataset.count = found.count;
      live.dataset.state = "ok";
    } catch (error) {
      if (mine !== asked || !ctx.isCurrent()) return;
      delete live.dataset.count;
      clear(live, error instanceof ApiError && error.status === 422 ? parseError(text, error) : errorBox(error));
      live.dataset.state = "error";
    } finally {
      if (mine === asked) {
        live.dataset.condition = text;
        live.removeAttribute("aria-busy");
      }
    }
  };
  const later = debounce(preview, 300);
  area.addEventListener("input", later);
  timezone.addEventListener("change", later);

  const save = async (event) => {
    event.preventDefault();
    clear(result);
    const body = { condition: area.value, description: description.value.trim() || null };
    if (timezone.value.trim()) body.timezone = timezone.value.trim();
    try {
      const saved = existing
        ? await api(segmentPath(existing.name), { method: "PATCH", body })
        : await api("/api/segments", { method: "POST", body: { name: nameInput.value.trim(), ...body } });
      toast(t("seg.saved", { name: saved.name, n: saved.members }));
      ctx.navigate(`/segments/${encodeURIComponent(saved.name)}`);
    } catch (error) {
      clear(result, error instanceof ApiError && error.body && error.body.line ? parseError(area.value, error) : errorBox(error));
    }
  };

  view.append(
    h("h1", {}, existing ? t("seg.builder.edit", { name: existing.name }) : t("seg.builder.new")),
    h(
      "div",
      { class: "grid wide" },
      h(
        "form",
        { class: "card stack", id: "seg-form", onsubmit: save },
        field(t("seg.name"), nameInput, existing ? null : t("seg.name.hint")),
        field(t("seg.description"), description),
        field(t("seg.timezone"), timezone, t("seg.timezone.hint")),
        field(t("seg.condition"), area, t("seg.condition.hint")),
        assembler(area, preview),
        result,
        h("button", { type: "submit" }, t("seg.save")),
      ),
      h("section", { class: "card", "aria-labelledby": "seg-live-title" }, h("h2", { id: "seg-live-title" }, t("seg.live")), live),
    ),
  );
  await preview();
}
