// Customers: find a profile by anything (a name in Thai or Vietnamese script or romanized,
// a phone in any format, an email, an id), and, for roles that decide identity, the review
// queue of record pairs that may be one person.
import { api } from "../core/api.js";
import { clear, errorBox, field, h, table, toast } from "../core/dom.js";
import { number, percent, t } from "../core/i18n.js";

export const needs = ["profiles.read"];

export const messages = {
  en: {
    "cust.title": "Customers",
    "cust.tabs": "Customer views",
    "cust.tab.search": "Search",
    "cust.tab.reviews": "Identity review",
    "cust.search.label": "Find a customer",
    "cust.search.hint": "A name in any script or spelling, a phone number in any format, an email or an id (customer number, order, LINE id…)",
    "cust.search.start": "Type a name, phone, email or id and press Enter.",
    "cust.results": "Customers found",
    "cust.results.count": "{n} customers found for “{q}”",
    "cust.results.one": "1 customer found for “{q}”",
    "cust.results.none": "No customer matches “{q}”. Try another spelling, the phone number or the email.",
    "cust.col.name": "Name",
    "cust.col.email": "Email",
    "cust.col.phone": "Phone",
    "cust.col.sources": "Sources",
    "cust.col.country": "Country",
    "cust.noname": "(no name)",
    "cust.rev.title": "Identity review queue",
    "cust.rev.intro": "Record pairs the matcher could not decide on, strongest first. Merge them when they are one person; keep them apart when they are not. Each decision is remembered.",
    "cust.rev.total": "{n} pairs waiting",
    "cust.rev.none": "Nothing to review.",
    "cust.rev.item": "Pair {id}",
    "cust.rev.side.a": "Record A",
    "cust.rev.side.b": "Record B",
    "cust.rev.record": "Record",
    "cust.rev.profile": "Profile",
    "cust.rev.evidence": "Evidence",
    "cust.rev.reason": "Why it is in the queue",
    "cust.rev.probability": "Match probability",
    "cust.rev.weight": "Match weight",
    "cust.rev.same.profile": "Both records are already in this profile.",
    "cust.rev.note": "Note (optional)",
    "cust.rev.merge": "Same person: merge",
    "cust.rev.apart": "Different people: keep apart",
    "cust.rev.merged": "Merged: the records are now one profile.",
    "cust.rev.kept": "Kept apart: they will not be merged.",
    "cust.rev.prev": "Previous",
    "cust.rev.next": "Next",
    "cust.rev.page": "{from}–{to} of {n}",
  },
  th: {
    "cust.title": "ลูกค้า",
    "cust.tabs": "มุมมองลูกค้า",
    "cust.tab.search": "ค้นหา",
    "cust.tab.reviews": "ตรวจสอบตัวตน",
    "cust.search.label": "ค้นหาลูกค้า",
    "cust.search.hint": "ชื่อในภาษาหรือการสะกดใดก็ได้ เบอร์โทรศัพท์รูปแบบใดก็ได้ อีเมล หรือรหัส (เลขที่ลูกค้า คำสั่งซื้อ LINE ID…)",
    "cust.search.start": "พิมพ์ชื่อ เบอร์โทร อีเมล หรือรหัส แล้วกด Enter",
    "cust.results": "ลูกค้าที่พบ",
    "cust.results.count": "พบลูกค้า {n} รายสำหรับ “{q}”",
    "cust.results.one": "พบลูกค้า 1 รายสำหรับ “{q}”",
    "cust.results.none": "ไม่พบลูกค้าที่ตรงกับ “{q}” ลองสะกดแบบอื่น ใช้เบอร์โทรศัพท์ หรืออีเมล",
    "cust.col.name": "ชื่อ",
    "cust.col.email": "อีเมล",
    "cust.col.phone": "โทรศัพท์",
    "cust.col.sources": "แหล่งข้อมูล",
    "cust.col.country": "ประเทศ",
    "cust.noname": "(ไม่มีชื่อ)",
    "cust.rev.title": "คิวตรวจสอบตัวตน",
    "cust.rev.intro": "คู่ระเบียนที่ระบบจับคู่ตัดสินใจไม่ได้ เรียงจากคู่ที่น่าจะเป็นคนเดียวกันมากที่สุด รวมเมื่อเป็นคนเดียวกัน แยกไว้เมื่อไม่ใช่ ระบบจะจดจำทุกการตัดสินใจ",
    "cust.rev.total": "รอตรวจสอบ {n} คู่",
    "cust.rev.none": "ไม่มีรายการที่ต้องตรวจสอบ",
    "cust.rev.item": "คู่ {id}",
    "cust.rev.side.a": "ระเบียน A",
    "cust.rev.side.b": "ระเบียน B",
    "cust.rev.record": "ระเบียน",
    "cust.rev.profile": "โปรไฟล์",
    "cust.rev.evidence": "หลักฐาน",
    "cust.rev.reason": "เหตุผลที่อยู่ในคิว",
    "cust.rev.probability": "ความน่าจะเป็นที่ตรงกัน",
    "cust.rev.weight": "น้ำหนักการจับคู่",
    "cust.rev.same.profile": "ระเบียนทั้งสองอยู่ในโปรไฟล์นี้แล้ว",
    "cust.rev.note": "หมายเหตุ (ไม่บังคับ)",
    "cust.rev.merge": "คนเดียวกัน: รวม",
    "cust.rev.apart": "คนละคน: แยกไว้",
    "cust.rev.merged": "รวมแล้ว: ระเบียนเป็นโปรไฟล์เดียวกัน",
    "cust.rev.kept": "แยกไว้แล้ว: จะไม่ถูกรวมกัน",
    "cust.rev.prev": "ก่อนหน้า",
    "cust.rev.next": "ถัดไป",
    "cust.rev.page": "{from}–{to} จาก {n}",
  },
  vi: {
    "cust.title": "Khách hàng",
    "cust.tabs": "Các chế độ xem khách hàng",
    "cust.tab.search": "Tìm kiếm",
    "cust.tab.reviews": "Xét duyệt danh tính",
    "cust.search.label": "Tìm khách hàng",
    "cust.search.hint": "Tên bằng bất kỳ chữ viết hay cách viết nào, số điện thoại ở mọi định dạng, email hoặc mã (mã khách hàng, đơn hàng, LINE ID…)",
    "cust.search.start": "Nhập tên, số điện thoại, email hoặc mã rồi nhấn Enter.",
    "cust.results": "Khách hàng tìm thấy",
    "cust.results.count": "Tìm thấy {n} khách hàng cho “{q}”",
    "cust.results.one": "Tìm thấy 1 khách hàng cho “{q}”",
    "cust.results.none": "Không có khách hàng nào khớp với “{q}”. Hãy thử cách viết khác, số điện thoại hoặc email.",
    "cust.col.name": "Tên",
    "cust.col.email": "Email",
    "cust.col.phone": "Điện thoại",
    "cust.col.sources": "Nguồn",
    "cust.col.country": "Quốc gia",
    "cust.noname": "(không có tên)",
    "cust.rev.title": "Hàng đợi xét duyệt danh tính",
    "cust.rev.intro": "Các cặp bản ghi mà bộ so khớp chưa quyết định được, mạnh nhất trước. Gộp khi là cùng một người; giữ riêng khi không phải. Mỗi quyết định đều được ghi nhớ.",
    "cust.rev.total": "{n} cặp đang chờ",
    "cust.rev.none": "Không có gì cần xét duyệt.",
    "cust.rev.item": "Cặp {id}",
    "cust.rev.side.a": "Bản ghi A",
    "cust.rev.side.b": "Bản ghi B",
    "cust.rev.record": "Bản ghi",
    "cust.rev.profile": "Hồ sơ",
    "cust.rev.evidence": "Bằng chứng",
    "cust.rev.reason": "Lý do nằm trong hàng đợi",
    "cust.rev.probability": "Xác suất khớp",
    "cust.rev.weight": "Trọng số khớp",
    "cust.rev.same.profile": "Cả hai bản ghi đã nằm trong hồ sơ này.",
    "cust.rev.note": "Ghi chú (không bắt buộc)",
    "cust.rev.merge": "Cùng một người: gộp",
    "cust.rev.apart": "Khác người: giữ riêng",
    "cust.rev.merged": "Đã gộp: các bản ghi giờ là một hồ sơ.",
    "cust.rev.kept": "Đã giữ riêng: chúng sẽ không bị gộp.",
    "cust.rev.prev": "Trước",
    "cust.rev.next": "Sau",
    "cust.rev.page": "{from}–{to} trên {n}",
  },
};

const REVIEW_PAGE = 10;

// A value the API may have masked for this role: shown as it came, marked as hidden.
export function shown(ctx, kind, value) {
  if (value === null || value === undefined || value === "") return "–";
  const text = typeof value === "string" ? value : String(value);
  if ((kind && ctx.masks(kind)) || text.includes("●●●")) {
    return h("span", { class: "masked", title: t("common.masked") }, text);
  }
  return text;
}

export async function render(view, ctx) {
  const reviews = ctx.can("identity.read", "identity.write");
  const tab = reviews && ctx.query.get("tab") === "reviews" ? "reviews" : "search";
  view.append(h("h1", {}, t("cust.title")));
  if (reviews) {
    const link = (name, href) =>
      h("li", {}, h("a", { href, "aria-current": tab === name ? "page" : null, "data-tab": name }, t(`cust.tab.${name}`)));
    view.append(
      h(
        "nav",
        { "aria-label": t("cust.tabs"), class: "tabs" },
        h("ul", { class: "row", style: "list-style:none;padding:0;gap:1rem" }, link("search", "#/customers"), link("reviews", "#/customers?tab=reviews")),
      ),
    );
  }
  if (tab === "reviews") await renderReviews(view, ctx);
  else await renderSearch(view, ctx);
}

// -- search ------------------------------------------------------------------------------

async function renderSearch(view, ctx) {
  const q = (ctx.query.get("q") || "").trim();
  const input = h("input", { type: "search", name: "q", value: q, autocomplete: "off", maxlength: 200, style: "min-width:min(28rem,80vw)" });
  const form = h(
    "form",
    {
      class: "inline",
      role: "search",
      onsubmit: (event) => {
        event.preventDefault();
        ctx.navigate("/customers", { q: input.value.trim() });
      },
    },
    field(t("cust.search.label"), input, t("cust.search.hint")),
    h("button", { type: "submit" }, t("common.search")),
  );
  const results = h("section", { id: "results", "aria-live": "polite", "aria-label": t("cust.results") });
  view.append(h("div", { class: "card" }, form), results);
  input.focus();
  if (!q) {
    results.append(h("p", { class: "muted" }, t("cust.search.start")));
    return;
  }
  let found;
  try {
    found = await api("/api/profiles", { query: { query: q, limit: 20 } });
  } catch (error) {
    clear(results, errorBox(t("common.error", { message: error.message })));
    results.dataset.state = "error";
    return;
  }
  const hits = found.profiles;
  results.dataset.count = String(hits.length);
  if (!hits.length) {
    clear(results, h("p", { class: "notice", "data-empty": "" }, t("cust.results.none", { q })));
    return;
  }
  // the hits carry the golden name and contact; the sources come with each profile
  const sources = await Promise.all(
    hits.map((p) =>
      api(`/api/profiles/${encodeURIComponent(p.id)}`)
        .then((full) => [...new Set((full.identifiers || []).map((i) => i.source))].sort())
        .catch(() => null),
    ),
  );
  const rows = hits.map((p, i) => ({ ...p, sources: sources[i] }));
  clear(
    results,
    h("h2", {}, hits.length === 1 ? t("cust.results.one", { q }) : t("cust.results.count", { n: hits.length, q })),
    table(
      [
        { label: t("cust.col.name"), value: (p) => h("a", { href: `#/profiles/${encodeURIComponent(p.id)}`, "data-profile": p.id }, p.name ? shown(ctx, "name", p.name) : t("cust.noname")) },
        { label: t("cust.col.email"), value: (p) => shown(ctx, "email", p.email) },
        { label: t("cust.col.phone"), value: (p) => shown(ctx, "phone", p.phone) },
        { label: t("cust.col.sources"), value: (p) => (p.sources ? p.sources.map((s) => h("span", { class: "badge" }, s)) : "–") },
        { label: t("cust.col.country"), value: (p) => p.country || "–" },
      ],
      rows,
      { caption: t("cust.results") },
    ),
  );
}

// -- identity review queue ---------------------------------------------------------------

async function renderReviews(view, ctx) {
  const offset = Math.max(0, Number.parseInt(ctx.query.get("offset") || "0", 10) || 0);
  const section = h("section", { id: "reviews", class: "stack" }, h("h2", {}, t("cust.rev.title")), h("p", { class: "muted" }, t("cust.rev.intro")));
  view.append(section);
  const page = await api("/api/identity/reviews", { query: { limit: REVIEW_PAGE, offset } });
  const status = h("p", { "aria-live": "polite", id: "review-status", "data-total": String(page.total) }, t("cust.rev.total", { n: page.total }));
  section.append(status);
  if (!page.items.length) {
    section.append(h("p", { class: "notice" }, t("cust.rev.none")));
    return;
  }
  // both sides' profiles, once each: who each record belongs to now
  const ids = [...new Set(page.items.flatMap((i) => [i.a.profile_id, i.b.profile_id]).filter(Boolean))];
  const people = new Map(
    await Promise.all(ids.map((id) => api(`/api/profiles/${encodeURIComponent(id)}`).then((p) => [id, p]).catch(() => [id, null]))),
  );
  let total = page.total;
  const list = h("div", { class: "stack" });
  for (const item of page.items) {
    list.append(
      reviewItem(ctx, item, people, (decision) => {
        total -= 1;
        status.dataset.total = String(total);
        status.textContent = `${t(decision === "same" ? "cust.rev.merged" : "cust.rev.kept")} ${t("cust.rev.total", { n: total })}`;
      }),
    );
  }
  section.append(list);
  const to = offset + page.items.length;
  const pager = h(
    "div",
    { class: "row" },
    offset > 0 ? h("button", { type: "button", class: "secondary", onclick: () => ctx.navigate("/customers", { tab: "reviews", offset: Math.max(0, offset - REVIEW_PAGE) || undefined }) }, t("cust.rev.prev")) : null,
    h("span", { class: "muted" }, t("cust.rev.page", { from: number(offset + 1), to: number(to), n: number(page.total) })),
    to < page.total ? h("button", { type: "button", class: "secondary", onclick: () => ctx.navigate("/customers", { tab: "reviews", offset: to }) }, t("cust.rev.next")) : null,
  );
  section.append(pager);
}

function golden(profile, name) {
  const values = (profile && profile.golden && profile.golden.values) || {};
  const entry = values[name];
  return entry ? entry.value : null;
}

function side(ctx, heading, ref, people) {
  const profile = ref.profile_id ? people.get(ref.profile_id) : null;
  const name = golden(profile, "full_name") || [golden(profile, "first_name"), golden(profile, "last_name")].filter(Boolean).join(" ");
  return h(
    "div",
    { class: "card", "data-side": heading === "cust.rev.side.a" ? "a" : "b" },
    h("h4", {}, t(heading)),
    h(
      "dl",
      { class: "kv" },
      h("dt", {}, t("cust.rev.record")),
      h("dd", {}, h("span", { class: "badge" }, ref.source), " ", ref.kind, " ", h("code", {}, ref.label)),
      h("dt", {}, t("cust.col.name")),
      h("dd", {}, name ? shown(ctx, "name", name) : "–"),
      h("dt", {}, t("cust.col.email")),
      h("dd", {}, shown(ctx, "email", golden(profile, "email"))),
      h("dt", {}, t("cust.col.phone")),
      h("dd", {}, shown(ctx, "phone", golden(profile, "phone"))),
      h("dt", {}, t("cust.rev.profile")),
      h("dd", {}, ref.profile_id ? h("a", { href: `#/profiles/${encodeURIComponent(ref.profile_id)}` }, ref.profile_id.slice(0, 8)) : "–"),
    ),
  );
}

function reviewItem(ctx, item, people, decided) {
  const note = h("input", { name: "reason", maxlength: 2000 });
  const message = h("div", { "aria-live": "polite" });
  const buttons = [];
  const decide = async (decision) => {
    buttons.forEach((b) => (b.disabled = true));
    clear(message);
    try {
      await api(`/api/identity/reviews/${encodeURIComponent(item.id)}`, { method: "POST", body: { decision, reason: note.value.trim() } });
      const text = t(decision === "same" ? "cust.rev.merged" : "cust.rev.kept");
      article.dataset.decided = decision;
      clear(actions, h("p", { class: "good" }, text));
      toast(text);
      decided(decision);
    } catch (error) {
      clear(message, errorBox(t("common.error", { message: error.message })));
      buttons.forEach((b) => (b.disabled = false));
    }
  };
  if (ctx.can("identity.write")) {
    buttons.push(
      h("button", { type: "button", onclick: () => decide("same") }, t("cust.rev.merge")),
      h("button", { type: "button", class: "secondary", onclick: () => decide("apart") }, t("cust.rev.apart")),
    );
  }
  const actions = ctx.can("identity.write") ? h("div", { class: "stack" }, field(t("cust.rev.note"), note), h("div", { class: "row" }, buttons), message) : h("div");
  const same = item.a.profile_id && item.a.profile_id === item.b.profile_id;
  const article = h(
    "article",
    { class: "card stack", "data-review": item.id },
    h("h3", {}, t("cust.rev.item", { id: item.id })),
    h("div", { class: "grid wide" }, side(ctx, "cust.rev.side.a", item.a, people), side(ctx, "cust.rev.side.b", item.b, people)),
    same ? h("p", { class: "muted" }, t("cust.rev.same.profile")) : null,
    h(
      "dl",
      { class: "kv", "aria-label": t("cust.rev.evidence") },
      h("dt", {}, t("cust.rev.reason")),
      h("dd", {}, item.reason),
      h("dt", {}, t("cust.rev.probability")),
      h("dd", {}, percent(item.probability)),
      h("dt", {}, t("cust.rev.weight")),
      h("dd", {}, number(item.weight, { maximumFractionDigits: 2 })),
    ),
    actions,
  );
  return article;
}
