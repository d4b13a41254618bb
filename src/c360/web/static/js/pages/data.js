// Data: sources with their import history and freshness, data quality per field, quarantine
// (inspect a rejected row, retry after fixing the mapping), consents and their proof, privacy
// requests, the audit log with its chain check, and API keys. Each tab shows only to roles
// whose capabilities read it; controls that change something show only to roles that may.
import { api, ApiError, downloadUrl } from "../core/api.js";
import { clear, errorBox, field, h, table, toast } from "../core/dom.js";
import { purposeCell } from "../core/common.js";
import { ago, dateTime, number, percent, purposeLabel, t, term } from "../core/i18n.js";

export const needs = ["sources.read", "consent.read", "privacy.read", "audit.read", "access.admin"];

// key: [English, Thai, Vietnamese]
const LABELS = {
  "data.title": ["Data", "ข้อมูล", "Dữ liệu"],
  "data.tabs": ["Data areas", "หมวดข้อมูล", "Các mục dữ liệu"],
  "data.tab.sources": ["Sources", "แหล่งข้อมูล", "Nguồn dữ liệu"],
  "data.tab.quality": ["Quality", "คุณภาพข้อมูล", "Chất lượng"],
  "data.tab.quarantine": ["Quarantine", "รายการที่ถูกกักไว้", "Cách ly"],
  "data.tab.consents": ["Consents", "ความยินยอม", "Sự đồng ý"],
  "data.tab.privacy": ["Privacy requests", "คำขอด้านความเป็นส่วนตัว", "Yêu cầu quyền riêng tư"],
  "data.tab.audit": ["Audit log", "บันทึกการตรวจสอบ", "Nhật ký kiểm toán"],
  "data.tab.keys": ["API keys", "คีย์ API", "Khóa API"],
  "data.source": ["Source", "แหล่งข้อมูล", "Nguồn"],
  "data.records": ["Records", "เรคคอร์ด", "Bản ghi"],
  "data.kinds": ["Record kinds", "ประเภทเรคคอร์ด", "Loại bản ghi"],
  "data.received": ["Last received", "ได้รับล่าสุด", "Nhận gần nhất"],
  "data.changed": ["Last change", "เปลี่ยนแปลงล่าสุด", "Thay đổi gần nhất"],
  "data.open": ["Quarantined (open)", "ถูกกักไว้ (ค้างอยู่)", "Bị cách ly (chưa xử lý)"],
  "data.never": ["never", "ไม่เคย", "chưa bao giờ"],
  "data.history": ["Import history", "ประวัติการนำเข้า", "Lịch sử nhập"],
  "data.history.of": ["Import history of {source}", "ประวัติการนำเข้าของ {source}", "Lịch sử nhập của {source}"],
  "data.retry.run": ["Retry of quarantined rows", "ลองนำเข้ารายการที่ถูกกักไว้อีกครั้ง", "Thử lại các dòng bị cách ly"],
  "data.status": ["Status", "สถานะ", "Trạng thái"],
  "data.run.running": ["running", "กำลังทำงาน", "đang chạy"],
  "data.run.done": ["done", "เสร็จแล้ว", "hoàn tất"],
  "data.run.failed": ["failed", "ล้มเหลว", "thất bại"],
  "data.read": ["Read", "อ่าน", "Đã đọc"],
  "data.unchanged": ["Unchanged", "ไม่เปลี่ยนแปลง", "Không đổi"],
  "data.back": ["All sources", "แหล่งข้อมูลทั้งหมด", "Tất cả nguồn"],
  "data.file": ["File", "ไฟล์", "Tệp"],
  "data.when": ["When", "เวลา", "Thời điểm"],
  "data.mapping": ["Mapping", "การจับคู่ฟิลด์", "Ánh xạ"],
  "data.mapping.v": ["v{v}", "ฉบับที่ {v}", "phiên bản {v}"],
  "data.new": ["New", "ใหม่", "Mới"],
  "data.updated": ["Changed", "เปลี่ยนแปลง", "Thay đổi"],
  "data.quarantined": ["Quarantined", "ถูกกักไว้", "Bị cách ly"],
  "data.field": ["Field", "ฟิลด์", "Trường"],
  "data.kind": ["Kind", "ประเภท", "Loại"],
  "data.section": ["Section", "ส่วน", "Phần"],
  "data.completeness": ["Completeness", "ความครบถ้วน", "Độ đầy đủ"],
  "data.validity": ["Validity", "ความถูกต้อง", "Độ hợp lệ"],
  "data.duplicates": ["Duplicates", "ค่าซ้ำ", "Trùng lặp"],
  "data.conflicts": ["Conflicts", "ข้อมูลขัดแย้ง", "Xung đột"],
  "data.quality.of": ["{source}: {n} records", "{source}: {n} เรคคอร์ด", "{source}: {n} bản ghi"],
  "data.quality.none": ["No records yet.", "ยังไม่มีเรคคอร์ด", "Chưa có bản ghi."],
  "data.unconfigured": [
    "Consent statements about purposes not configured (kept)",
    "คำแสดงความยินยอมในวัตถุประสงค์ที่ไม่ได้กำหนดไว้ในระบบ (เก็บไว้แล้ว)",
    "Tuyên bố đồng ý cho mục đích chưa được cấu hình (vẫn được lưu)",
  ],
  "data.pick": ["Source", "แหล่งข้อมูล", "Nguồn"],
  "data.show": ["Show", "แสดง", "Hiển thị"],
  "data.q.counts": ["{open} open, {resolved} brought in by a retry", "ค้างอยู่ {open} รายการ นำเข้าแล้วด้วยการลองใหม่ {resolved} รายการ", "{open} còn mở, {resolved} đã nhận lại khi thử lại"],
  "data.q.id": ["Item", "รายการ", "Mục"],
  "data.q.reason": ["Reason", "เหตุผล", "Lý do"],
  "data.q.origin": ["File and line", "ไฟล์และบรรทัด", "Tệp và dòng"],
  "data.q.stage": ["Stage", "ขั้นตอน", "Giai đoạn"],
  "data.q.detail": ["Detail", "รายละเอียด", "Chi tiết"],
  "data.q.state": ["State", "สถานะ", "Trạng thái"],
  "data.q.resolved": ["brought in {when}", "นำเข้าแล้ว {when}", "đã nhận {when}"],
  "data.q.open": ["open", "ค้างอยู่", "còn mở"],
  "data.q.inspect": ["Inspect item {id}", "ดูรายการ {id}", "Xem mục {id}"],
  "data.q.item": ["Quarantined item {id}", "รายการที่ถูกกักไว้ {id}", "Mục bị cách ly {id}"],
  "data.q.raw": ["Raw values", "ค่าดิบ", "Giá trị gốc"],
  "data.q.column": ["Column", "คอลัมน์", "Cột"],
  "data.q.value": ["Value", "ค่า", "Giá trị"],
  "data.q.retry": ["Fix the mapping and retry", "แก้การจับคู่ฟิลด์แล้วลองใหม่", "Sửa ánh xạ và thử lại"],
  "data.q.mapping": ["Mapping (YAML), version {v}", "การจับคู่ฟิลด์ (YAML) ฉบับที่ {v}", "Ánh xạ (YAML), phiên bản {v}"],
  "data.q.mapping.hint": [
    "Saved as the source's new version when it differs; the open rows are then read again with it.",
    "หากต่างจากเดิมจะบันทึกเป็นฉบับใหม่ของแหล่งข้อมูล แล้วอ่านแถวที่ค้างอยู่อีกครั้งด้วยฉบับนี้",
    "Nếu khác sẽ được lưu thành phiên bản mới của nguồn; các dòng còn mở sẽ được đọc lại bằng ánh xạ này.",
  ],
  "data.q.retry.run": ["Retry open rows", "ลองนำเข้าแถวที่ค้างอยู่อีกครั้ง", "Thử lại các dòng còn mở"],
  "data.q.retried": [
    "Retried {tried}: {accepted} brought in, {still} still quarantined, {bad} unreadable.",
    "ลองใหม่ {tried} แถว: นำเข้า {accepted} แถว ยังถูกกักไว้ {still} แถว อ่านไม่ได้ {bad} แถว",
    "Đã thử lại {tried}: nhận {accepted}, vẫn cách ly {still}, không đọc được {bad}.",
  ],
  "data.q.nomapping": ["This source has no mapping to retry with.", "แหล่งข้อมูลนี้ไม่มีการจับคู่ฟิลด์สำหรับลองใหม่", "Nguồn này chưa có ánh xạ để thử lại."],
  "data.c.find": ["Find a person", "ค้นหาบุคคล", "Tìm một người"],
  "data.c.who": ["Profile id, or type:value (email:…, phone:…)", "รหัสโปรไฟล์ หรือ ประเภท:ค่า (email:…, phone:…)", "Mã hồ sơ, hoặc loại:giá trị (email:…, phone:…)"],
  "data.c.state": ["Consent now", "ความยินยอมปัจจุบัน", "Sự đồng ý hiện tại"],
  "data.c.of": ["Consents of profile {id}", "ความยินยอมของโปรไฟล์ {id}", "Sự đồng ý của hồ sơ {id}"],
  "data.c.purpose": ["Purpose", "วัตถุประสงค์", "Mục đích"],
  "data.c.granted": ["Granted", "ให้ความยินยอม", "Đồng ý"],
  "data.c.channels": ["Channels granted", "ช่องทางที่ยินยอม", "Kênh được đồng ý"],
  "data.c.subscriptions": ["Subscriptions", "การสมัครรับข่าวสาร", "Đăng ký nhận tin"],
  "data.c.channel": ["Channel", "ช่องทาง", "Kênh"],
  "data.c.ledger": ["Ledger (proof)", "บันทึกหลักฐาน", "Sổ ghi (bằng chứng)"],
  "data.c.at": ["At", "เวลา", "Lúc"],
  "data.c.stateof": ["State", "สถานะ", "Trạng thái"],
  "data.c.method": ["Method", "วิธีการ", "Phương thức"],
  "data.c.notice": ["Notice version", "ฉบับของประกาศ", "Phiên bản thông báo"],
  "data.c.proof": ["Download the proof (JSON)", "ดาวน์โหลดหลักฐาน (JSON)", "Tải bằng chứng (JSON)"],
  "data.c.record": ["Record a change", "บันทึกการเปลี่ยนแปลง", "Ghi nhận thay đổi"],
  "data.c.change": ["Change", "การเปลี่ยนแปลง", "Thay đổi"],
  "data.c.grant": ["granted", "ให้ความยินยอม", "đồng ý"],
  "data.c.withdraw": ["withdrawn", "ถอนความยินยอม", "rút lại"],
  "data.c.noticetext": ["Notice text shown to the person", "ข้อความประกาศที่แสดงต่อบุคคล", "Nội dung thông báo đã hiển thị"],
  "data.c.evidence": ["Evidence (call id, token…)", "หลักฐาน (รหัสการโทร โทเคน…)", "Bằng chứng (mã cuộc gọi, token…)"],
  "data.c.save": ["Record", "บันทึก", "Ghi nhận"],
  "data.c.recorded": ["Recorded; {n} queued messages cancelled.", "บันทึกแล้ว ยกเลิกข้อความที่รอส่ง {n} รายการ", "Đã ghi nhận; đã hủy {n} tin nhắn đang chờ."],
  "data.c.all": ["all channels", "ทุกช่องทาง", "mọi kênh"],
  "data.p.file": ["File a request", "ยื่นคำขอ", "Gửi yêu cầu"],
  "data.p.kind": ["Kind", "ประเภทคำขอ", "Loại yêu cầu"],
  "data.p.subject": ["Who it is about (email:…, phone:…, profile id)", "เจ้าของข้อมูล (email:…, phone:…, รหัสโปรไฟล์)", "Người liên quan (email:…, phone:…, mã hồ sơ)"],
  "data.p.law": ["Law", "กฎหมาย", "Luật"],
  "data.p.submit": ["File", "ยื่น", "Gửi"],
  "data.p.filed": ["Request {id} filed; deadline {deadline}.", "ยื่นคำขอ {id} แล้ว กำหนดเสร็จ {deadline}", "Đã gửi yêu cầu {id}; hạn {deadline}."],
  "data.p.list": ["Requests", "คำขอ", "Các yêu cầu"],
  "data.p.status": ["Status", "สถานะ", "Trạng thái"],
  "data.p.received": ["Received", "ได้รับเมื่อ", "Nhận lúc"],
  "data.p.deadline": ["Deadline", "กำหนดเสร็จ", "Hạn chót"],
  "data.p.overdue": ["overdue", "เกินกำหนด", "quá hạn"],
  "data.p.by": ["Filed by", "ยื่นโดย", "Người gửi"],
  "data.p.open": ["Request {id}", "คำขอ {id}", "Yêu cầu {id}"],
  "data.p.run": ["Run", "ดำเนินการ", "Thực hiện"],
  "data.p.reject": ["Reject", "ปฏิเสธ", "Từ chối"],
  "data.p.reason": ["Reason for rejecting", "เหตุผลที่ปฏิเสธ", "Lý do từ chối"],
  "data.p.export": ["Download the access export (JSON)", "ดาวน์โหลดข้อมูลที่ขอเข้าถึง (JSON)", "Tải bản xuất dữ liệu (JSON)"],
  "data.p.exporthtml": ["Open it as a page", "เปิดเป็นหน้าเว็บ", "Mở dưới dạng trang"],
  "data.p.done": ["Request {id} is {status}.", "คำขอ {id} อยู่ในสถานะ {status}", "Yêu cầu {id} đang ở trạng thái {status}."],
  "data.p.report": ["Report", "รายงาน", "Báo cáo"],
  "data.p.error": ["Error", "ข้อผิดพลาด", "Lỗi"],
  "data.p.back": ["All requests", "คำขอทั้งหมด", "Tất cả yêu cầu"],
  "data.pk.access": ["access", "ขอเข้าถึง", "truy cập"],
  "data.pk.erase": ["erase", "ขอลบ", "xóa"],
  "data.pk.rectify": ["rectify", "ขอแก้ไข", "chỉnh sửa"],
  "data.pk.restrict": ["restrict", "ขอระงับการใช้", "hạn chế"],
  "data.pk.unrestrict": ["lift restriction", "ยกเลิกการระงับ", "bỏ hạn chế"],
  "data.ps.received": ["received", "ได้รับแล้ว", "đã nhận"],
  "data.ps.running": ["running", "กำลังดำเนินการ", "đang chạy"],
  "data.ps.completed": ["completed", "เสร็จสิ้น", "hoàn tất"],
  "data.ps.failed": ["failed", "ล้มเหลว", "thất bại"],
  "data.ps.rejected": ["rejected", "ถูกปฏิเสธ", "bị từ chối"],
  "data.a.filters": ["Filter the log", "กรองบันทึก", "Lọc nhật ký"],
  "data.a.actor": ["Actor (user:name, key:12)", "ผู้กระทำ (user:ชื่อ, key:12)", "Người thực hiện (user:tên, key:12)"],
  "data.a.action": ["Action (segment.* for a prefix)", "การกระทำ (segment.* สำหรับคำนำหน้า)", "Hành động (segment.* cho tiền tố)"],
  "data.a.since": ["From", "ตั้งแต่", "Từ"],
  "data.a.until": ["Before", "ก่อน", "Trước"],
  "data.a.apply": ["Apply", "ใช้ตัวกรอง", "Áp dụng"],
  "data.a.at": ["At", "เวลา", "Lúc"],
  "data.a.role": ["Role", "บทบาท", "Vai trò"],
  "data.a.object": ["Object", "รายการ", "Đối tượng"],
  "data.a.client": ["From address", "จากที่อยู่", "Từ địa chỉ"],
  "data.a.outcome": ["Outcome", "ผลลัพธ์", "Kết quả"],
  "data.a.verify": ["Check the hash chain", "ตรวจสอบห่วงโซ่แฮช", "Kiểm tra chuỗi băm"],
  "data.a.ok": ["The chain is intact: {n} entries verify.", "ห่วงโซ่สมบูรณ์: ตรวจสอบผ่าน {n} รายการ", "Chuỗi nguyên vẹn: {n} mục hợp lệ."],
  "data.a.broken": ["The chain is broken at entry {id} ({reason}); {n} entries before it verify.", "ห่วงโซ่ขาดที่รายการ {id} ({reason}) รายการก่อนหน้า {n} รายการตรวจสอบผ่าน", "Chuỗi bị đứt tại mục {id} ({reason}); {n} mục trước đó hợp lệ."],
  "data.a.head": ["Last hash: {head}", "แฮชล่าสุด: {head}", "Băm cuối: {head}"],
  "data.k.create": ["Create a key", "สร้างคีย์", "Tạo khóa"],
  "data.k.name": ["Name (who or what uses it)", "ชื่อ (ผู้ใช้หรือระบบที่ใช้)", "Tên (ai hoặc hệ thống nào dùng)"],
  "data.k.role": ["Role", "บทบาท", "Vai trò"],
  "data.k.source": ["Source (writer keys only)", "แหล่งข้อมูล (เฉพาะคีย์สำหรับเขียน)", "Nguồn (chỉ khóa ghi)"],
  "data.k.make": ["Create", "สร้าง", "Tạo"],
  "data.k.secret": [
    "The secret of key {id} ({name}); copy it now, it is not shown again:",
    "รหัสลับของคีย์ {id} ({name}) คัดลอกตอนนี้ ระบบจะไม่แสดงอีก:",
    "Mã bí mật của khóa {id} ({name}); hãy sao chép ngay, sẽ không hiển thị lại:",
  ],
  "data.k.id": ["Id", "รหัส", "Mã"],
  "data.k.prefix": ["Starts with", "ขึ้นต้นด้วย", "Bắt đầu bằng"],
  "data.k.created": ["Created", "สร้างเมื่อ", "Ngày tạo"],
  "data.k.state": ["State", "สถานะ", "Trạng thái"],
  "data.k.actions": ["Actions", "การดำเนินการ", "Thao tác"],
  "data.k.rotate": ["Rotate key {id}", "หมุนเวียนคีย์ {id}", "Xoay vòng khóa {id}"],
  "data.k.revoke": ["Revoke key {id}", "เพิกถอนคีย์ {id}", "Thu hồi khóa {id}"],
  "data.k.revoked": ["Key {id} revoked.", "เพิกถอนคีย์ {id} แล้ว", "Đã thu hồi khóa {id}."],
  "data.k.rotated": ["Key {id} rotated: its old secret works until {until}.", "หมุนเวียนคีย์ {id} แล้ว รหัสลับเดิมใช้ได้ถึง {until}", "Đã xoay vòng khóa {id}: mã cũ còn dùng được đến {until}."],
  "data.ks.active": ["active", "ใช้งานอยู่", "đang dùng"],
  "data.ks.rotated": ["rotated, works until {until}", "หมุนเวียนแล้ว ใช้ได้ถึง {until}", "đã xoay vòng, dùng được đến {until}"],
  "data.ks.expired": ["expired", "หมดอายุ", "hết hạn"],
  "data.ks.revoked": ["revoked {when}", "เพิกถอนเมื่อ {when}", "thu hồi {when}"],
  "data.role.writer": ["writer (one source)", "ผู้เขียน (แหล่งข้อมูลเดียว)", "ghi (một nguồn)"],
};

export const messages = { en: {}, th: {}, vi: {} };
for (const [key, [en, th, vi]] of Object.entries(LABELS)) {
  messages.en[key] = en;
  messages.th[key] = th;
  messages.vi[key] = vi;
}

const TABS = [
  { id: "sources", needs: ["sources.read"] },
  { id: "quality", needs: ["sources.read"] },
  { id: "quarantine", needs: ["sources.read"] },
  { id: "consents", needs: ["consent.read"] },
  { id: "privacy", needs: ["privacy.read"] },
  { id: "audit", needs: ["audit.read"] },
  { id: "keys", needs: ["access.admin"] },
];

const ROLES = ["admin", "marketer", "sales", "service", "finance", "analyst", "read", "writer"];
const roleName = (role) => t(role === "writer" ? "data.role.writer" : `role.${role}`);
const when = (value) => (value ? h("time", { datetime: value, title: dateTime(value) }, ago(value)) : h("span", { class: "warn" }, t("data.never")));
const pct = (value) => (value === null || value === undefined ? "–" : percent(value));
const section = (title, ...children) => h("section", { class: "card stack" }, h("h2", {}, title), ...children);
const live = () => h("div", { "aria-live": "polite", class: "stack" });

function option(value, label, selected) {
  return h("option", { value, selected: value === selected }, label);
}

function problem(error) {
  return errorBox(error instanceof ApiError && error.status === 403 ? t("common.forbidden") : error);
}

export async function render(view, ctx) {
  const shown = TABS.filter((tab) => ctx.can(...tab.needs));
  const wanted = ctx.params[0] || shown[0].id;
  const tab = TABS.find((x) => x.id === wanted);
  view.append(
    h("h1", {}, t("data.title")),
    h(
      "nav",
      { "aria-label": t("data.tabs") },
      h(
        "ul",
        { class: "row", style: "list-style:none;padding:0;margin:0 0 1rem" },
        shown.map((x) =>
          h(
            "li",
            {},
            h("a", { href: `#/data/${x.id}`, class: x.id === wanted ? "button" : "button secondary", "aria-current": x.id === wanted ? "page" : null, "data-tab": x.id }, t(`data.tab.${x.id}`)),
          ),
        ),
      ),
    ),
  );
  if (!tab) {
    view.append(h("p", {}, t("common.notfound")));
    return;
  }
  if (!ctx.can(...tab.needs)) {
    view.append(h("p", {}, t("common.forbidden")));
    return;
  }
  const body = h("div", { class: "stack", id: `tab-${tab.id}` });
  view.append(body);
  await RENDER[tab.id](body, ctx, ctx.params[1]);
}

// --- sources ----------------------------------------------------------------------------------

async function sourcesTab(body, ctx, name) {
  if (name) return sourceHistory(body, name);
  const [sources, quality] = await Promise.all([api("/api/sources"), api("/api/quality")]);
  const byName = new Map(quality.map((q) => [q.source, q]));
  body.append(
    section(
      t("data.tab.sources"),
      table(
        [
          { label: t("data.source"), value: (s) => h("a", { href: `#/data/sources/${encodeURIComponent(s.name)}` }, s.name) },
          { label: t("data.records"), value: (s) => number(byName.get(s.name)?.records ?? 0), num: true },
          { label: t("data.kinds"), value: (s) => Object.entries(byName.get(s.name)?.kinds || {}).map(([k, n]) => `${k} ${number(n)}`).join(", ") },
          { label: t("data.received"), value: (s) => when(byName.get(s.name)?.last_received_at) },
          { label: t("data.changed"), value: (s) => when(byName.get(s.name)?.last_record_change_at) },
          {
            label: t("data.open"),
            value: (s) => {
              const open = byName.get(s.name)?.quarantined_open || 0;
              return open ? h("a", { class: "bad", href: `#/data/quarantine?source=${encodeURIComponent(s.name)}` }, number(open)) : number(0);
            },
            num: true,
          },
        ],
        sources,
        { caption: t("data.tab.sources"), empty: t("common.none") },
      ),
    ),
  );
}

async function sourceHistory(body, name) {
  const [history, quality] = await Promise.all([api(`/api/sources/${encodeURIComponent(name)}/imports`), api("/api/quality")]);
  const q = quality.find((x) => x.source === name);
  body.append(
    h("p", {}, h("a", { href: "#/data/sources" }, t("data.back"))),
    section(
      t("data.history.of", { source: name }),
      h(
        "dl",
        { class: "kv" },
        h("dt", {}, t("data.records")),
        h("dd", {}, number(q ? q.records : 0)),
        h("dt", {}, t("data.received")),
        h("dd", {}, when(q?.last_received_at)),
        h("dt", {}, t("data.changed")),
        h("dd", {}, when(q?.last_record_change_at)),
        h("dt", {}, t("data.open")),
        h("dd", {}, number(q ? q.quarantined_open : 0)),
      ),
      table(
        [
          { label: t("data.file"), value: (r) => (r.kind === "retry" ? t("data.retry.run") : r.location) },
          { label: t("data.when"), value: (r) => dateTime(r.started_at) },
          { label: t("data.status"), value: (r) => h("span", { class: `badge ${r.status === "failed" ? "bad" : r.status === "done" ? "good" : "warn"}`, title: r.error || null }, t(`data.run.${r.status}`)) },
          { label: t("data.mapping"), value: (r) => (r.mapping_version ? t("data.mapping.v", { v: r.mapping_version }) : "–") },
          { label: t("data.read"), value: (r) => number(r.read), num: true },
          { label: t("data.new"), value: (r) => number(r.new), num: true },
          { label: t("data.updated"), value: (r) => number(r.updated), num: true },
          { label: t("data.unchanged"), value: (r) => number(r.unchanged), num: true },
          { label: t("data.quarantined"), value: (r) => h("span", { class: r.quarantined ? "bad" : null }, number(r.quarantined)), num: true },
        ],
        history.runs,
        { caption: t("data.history.of", { source: name }), empty: t("common.none") },
      ),
    ),
  );
}

// --- quality ----------------------------------------------------------------------------------

async function qualityTab(body) {
  const report = await api("/api/quality");
  if (!report.length) body.append(h("p", { class: "muted" }, t("common.none")));
  for (const s of report) {
    body.append(
      h(
        "section",
        { class: "card stack", "data-source": s.source },
        h("h2", {}, t("data.quality.of", { source: s.source, n: s.records })),
        h(
          "dl",
          { class: "kv" },
          h("dt", {}, t("data.received")),
          h("dd", {}, when(s.last_received_at)),
          h("dt", {}, t("data.open")),
          h("dd", {}, number(s.quarantined_open)),
          Object.keys(s.unconfigured_purposes || {}).length ? [
            h("dt", {}, t("data.unconfigured")),
            h("dd", { class: "warn" }, Object.entries(s.unconfigured_purposes).map(([p, n]) => `${p} (${number(n)})`).join(", ")),
          ] : null,
        ),
        table(
          [
            { label: t("data.kind"), value: (f) => f.kind },
            { label: t("data.field"), value: (f) => f.field },
            { label: t("data.section"), value: (f) => f.section },
            { label: t("data.completeness"), value: (f) => h("span", { class: f.completeness < 0.5 ? "warn" : null }, pct(f.completeness)), num: true },
            { label: t("data.validity"), value: (f) => h("span", { class: f.validity !== null && f.validity < 0.9 ? "bad" : null }, pct(f.validity)), num: true },
            { label: t("data.duplicates"), value: (f) => number(f.duplicates), num: true },
            { label: t("data.conflicts"), value: (f) => number(f.conflicts), num: true },
          ],
          s.fields,
          { caption: t("data.quality.of", { source: s.source, n: s.records }), empty: t("data.quality.none") },
        ),
      ),
    );
  }
}

// --- quarantine -------------------------------------------------------------------------------

async function quarantineTab(body, ctx) {
  const sources = await api("/api/sources");
  if (!sources.length) {
    body.append(h("p", { class: "muted" }, t("common.none")));
    return;
  }
  const name = ctx.query.get("source") || sources[0].name;
  const picker = h(
    "select",
    { name: "source", onchange: (e) => ctx.navigate("/data/quarantine", { source: e.target.value }) },
    sources.map((s) => option(s.name, s.name, name)),
  );
  body.append(h("form", { class: "inline", onsubmit: (e) => e.preventDefault() }, field(t("data.pick"), picker)));
  const page = await api(`/api/sources/${encodeURIComponent(name)}/rejects`, { query: { limit: 200 } });
  const open = page.rejects.filter((r) => !r.resolvedAt).length;
  const detail = live();
  body.append(
    section(
      `${t("data.tab.quarantine")}: ${name}`,
      h("p", { "data-open": open }, t("data.q.counts", { open, resolved: page.rejects.length - open })),
      table(
        [
          { label: t("data.q.id"), value: (r) => h("button", { type: "button", class: "secondary", "aria-label": t("data.q.inspect", { id: r.id }), onclick: () => inspect(detail, r) }, `#${r.id}`) },
          { label: t("data.q.reason"), value: (r) => r.reason },
          { label: t("data.q.origin"), value: (r) => r.origin || "–" },
          { label: t("data.received"), value: (r) => dateTime(r.receivedAt) },
          { label: t("data.q.state"), value: (r) => (r.resolvedAt ? h("span", { class: "badge good" }, t("data.q.resolved", { when: ago(r.resolvedAt) })) : h("span", { class: "badge bad" }, t("data.q.open"))) },
        ],
        page.rejects,
        { caption: `${t("data.tab.quarantine")}: ${name}`, empty: t("common.none") },
      ),
      detail,
    ),
  );
  if (ctx.can("config") && open) body.append(await retryForm(name, ctx));
}

function inspect(box, r) {
  let raw = null;
  try {
    raw = JSON.parse(r.payload);
  } catch {
    raw = null;
  }
  clear(
    box,
    h(
      "div",
      { class: "card stack", id: "reject-detail" },
      h("h3", {}, t("data.q.item", { id: r.id })),
      h(
        "dl",
        { class: "kv" },
        h("dt", {}, t("data.q.reason")),
        h("dd", {}, r.reason),
        h("dt", {}, t("data.q.detail")),
        h("dd", {}, r.detail),
        h("dt", {}, t("data.q.origin")),
        h("dd", {}, r.origin || "–"),
        h("dt", {}, t("data.q.stage")),
        h("dd", {}, r.stage),
        h("dt", {}, t("data.received")),
        h("dd", {}, dateTime(r.receivedAt)),
      ),
      h("h3", {}, t("data.q.raw")),
      raw && typeof raw === "object" && !Array.isArray(raw)
        ? table(
            [
              { label: t("data.q.column"), value: ([k]) => k },
              { label: t("data.q.value"), value: ([, v]) => (v === null ? "–" : typeof v === "object" ? JSON.stringify(v) : String(v)) },
            ],
            Object.entries(raw),
            { caption: t("data.q.raw") },
          )
        : h("pre", { style: "white-space:pre-wrap;overflow-wrap:anywhere" }, r.payload),
    ),
  );
}

async function retryForm(name, ctx) {
  let mapping = null;
  try {
    mapping = await api(`/api/sources/${encodeURIComponent(name)}/mapping`);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) throw error;
  }
  if (!mapping) return h("p", { class: "muted" }, t("data.q.nomapping"));
  const text = h("textarea", { name: "mapping", rows: 14, spellcheck: "false" });
  text.value = mapping.text;
  const result = live();
  const button = h("button", { type: "submit" }, t("data.q.retry.run"));
  return section(
    t("data.q.retry"),
    h(
      "form",
      {
        class: "stack",
        onsubmit: async (event) => {
          event.preventDefault();
          button.disabled = true;
          clear(result);
          try {
            const changed = text.value !== mapping.text;
            const done = await api(`/api/sources/${encodeURIComponent(name)}/rejects/retry`, {
              method: "POST",
              body: changed ? { mapping: text.value } : {},
            });
            toast(t("data.q.retried", { tried: done.tried, accepted: done.accepted, still: done.still_quarantined, bad: done.not_replayable }));
            if (ctx.isCurrent()) ctx.navigate("/data/quarantine", { source: name });
          } catch (error) {
            clear(result, problem(error));
            button.disabled = false;
          }
        },
      },
      field(t("data.q.mapping", { v: mapping.version }), text, t("data.q.mapping.hint")),
      result,
      button,
    ),
  );
}

// --- consents ---------------------------------------------------------------------------------

async function findProfile(who) {
  const text = who.trim();
  const typed = text.match(/^([a-z][a-z0-9_]{0,49}):(.+)$/);
  if (typed) {
    const found = await api(`/api/profiles/by-identifier/${typed[1]}/${encodeURIComponent(typed[2].trim())}`);
    return found.id;
  }
  return text;
}

async function consentsTab(body, ctx) {
  const who = h("input", { name: "who", value: ctx.query.get("profile") || "", required: true, autocomplete: "off" });
  const message = live();
  body.append(
    section(
      t("data.c.find"),
      h(
        "form",
        {
          class: "inline",
          onsubmit: async (event) => {
            event.preventDefault();
            clear(message);
            try {
              ctx.navigate("/data/consents", { profile: await findProfile(who.value) });
            } catch (error) {
              clear(message, problem(error));
            }
          },
        },
        field(t("data.c.who"), who),
        h("button", { type: "submit" }, t("common.search")),
      ),
      message,
    ),
  );
  const id = ctx.query.get("profile");
  if (!id) return;
  const consents = await api(`/api/profiles/${encodeURIComponent(id)}/consents`);
  const state = consents.state;
  const purposes = Object.entries(state.purposes || {});
  body.append(
    section(
      t("data.c.of", { id: consents.profile_id }),
      h("h3", {}, t("data.c.state")),
      table(
        [
          { label: t("data.c.purpose"), value: ([p, s]) => purposeCell(p, s) },
          { label: t("data.c.granted"), value: ([, s]) => h("span", { class: s.granted ? "badge good" : "badge" }, s.granted ? t("common.yes") : t("common.no")) },
          {
            label: t("data.c.channels"),
            value: ([, s]) =>
              Object.entries(s.channels || {})
                .filter(([, v]) => v)
                .map(([c]) => term("channel", c))
                .join(", ") || "–",
          },
        ],
        purposes,
        { caption: t("data.c.state") },
      ),
      h("h3", {}, t("data.c.subscriptions")),
      table(
        [
          { label: t("data.c.channel"), value: ([c]) => term("channel", c) },
          { label: t("data.c.stateof"), value: ([, s]) => term("consent.state", s) },
        ],
        Object.entries(state.subscriptions || {}),
        { caption: t("data.c.subscriptions") },
      ),
      h("h3", {}, t("data.c.ledger")),
      h(
        "div",
        { "data-ledger": consents.ledger.length },
        table(
          [
            { label: t("data.c.at"), value: (e) => dateTime(e.at) },
            { label: t("data.c.purpose"), value: (e) => purposeCell(e.purpose || e.kind, state.purposes?.[e.purpose]) },
            { label: t("data.c.channel"), value: (e) => (e.channel === "*" ? t("data.c.all") : term("channel", e.channel)) },
            { label: t("data.c.stateof"), value: (e) => term("consent.state", e.state) },
            { label: t("data.c.method"), value: (e) => e.method || "–" },
            { label: t("data.c.notice"), value: (e) => e.notice_version || "–" },
          ],
          consents.ledger,
          { caption: t("data.c.ledger"), empty: t("common.none") },
        ),
      ),
      h("p", {}, h("a", { href: downloadUrl(`/api/profiles/${encodeURIComponent(consents.profile_id)}/consents/proof`), download: `consent-proof-${consents.profile_id}.json` }, t("data.c.proof"))),
    ),
  );
  // only configured purposes may be recorded (the API refuses others)
  const recordable = purposes.filter(([, s]) => s.configured !== false);
  if (ctx.can("consent.write")) body.append(consentForm(consents.profile_id, recordable, Object.keys(state.subscriptions || {}), ctx));
}

function consentForm(profileId, purposes, channels, ctx) {
  const purpose = h("select", { name: "purpose" }, purposes.map(([p, s]) => option(p, purposeLabel(p, s.labels))));
  const channel = h("select", { name: "channel" }, option("*", t("data.c.all")), channels.map((c) => option(c, term("channel", c))));
  const state = h("select", { name: "state" }, option("granted", t("data.c.grant")), option("withdrawn", t("data.c.withdraw")));
  const method = h("select", { name: "method" }, ["call_recording", "form", "checkbox", "double_opt_in", "unsubscribe_link", "api"].map((m) => option(m, m, "call_recording")));
  const notice = h("textarea", { name: "notice", rows: 3 });
  const evidence = h("input", { name: "evidence" });
  const result = live();
  return section(
    t("data.c.record"),
    h(
      "form",
      {
        class: "stack",
        onsubmit: async (event) => {
          event.preventDefault();
          clear(result);
          const before = Number(document.querySelector("[data-ledger]")?.dataset.ledger || 0);
          try {
            const done = await api("/api/consents", {
              method: "POST",
              body: { profile_id: profileId, purpose: purpose.value, channel: channel.value, state: state.value, method: method.value, notice_text: notice.value || undefined, evidence: evidence.value || undefined },
            });
            toast(t("data.c.recorded", { n: done.cancelled }));
            // the ledger shows the change once the log processor has applied it
            for (let i = 0; i < 20 && ctx.isCurrent(); i++) {
              const now = await api(`/api/profiles/${encodeURIComponent(profileId)}/consents`);
              if (now.ledger.length > before) break;
              await new Promise((r) => setTimeout(r, 500));
            }
            if (ctx.isCurrent()) ctx.navigate("/data/consents", { profile: profileId });
          } catch (error) {
            clear(result, problem(error));
          }
        },
      },
      h("div", { class: "row" }, field(t("data.c.purpose"), purpose), field(t("data.c.channel"), channel), field(t("data.c.change"), state), field(t("data.c.method"), method)),
      field(t("data.c.noticetext"), notice),
      field(t("data.c.evidence"), evidence),
      result,
      h("button", { type: "submit" }, t("data.c.save")),
    ),
  );
}

// --- privacy requests -------------------------------------------------------------------------

const KINDS = ["access", "erase", "rectify", "restrict", "unrestrict"];
const statusBadge = (r) =>
  h("span", { class: r.status === "completed" ? "badge good" : r.status === "failed" || r.status === "rejected" ? "badge bad" : "badge" }, t(`data.ps.${r.status}`));

async function privacyTab(body, ctx, rest) {
  if (rest) return privacyRequest(body, ctx, rest);
  if (ctx.can("privacy.create")) body.append(privacyForm(ctx));
  const page = await api("/api/privacy/requests", { query: { limit: 200 } });
  body.append(
    section(
      t("data.p.list"),
      h(
        "div",
        { id: "requests", "data-count": page.items.length },
        table(
          [
            { label: "#", value: (r) => h("a", { href: `#/data/privacy/${r.id}`, "aria-label": t("data.p.open", { id: r.id }) }, String(r.id)) },
            { label: t("data.p.kind"), value: (r) => t(`data.pk.${r.kind}`) },
            { label: t("data.p.status"), value: statusBadge },
            { label: t("data.p.subject"), value: (r) => r.subject || "–" },
            { label: t("data.p.received"), value: (r) => dateTime(r.received_at) },
            { label: t("data.p.deadline"), value: (r) => h("span", { "data-deadline": r.deadline }, dateTime(r.deadline), r.overdue ? h("span", { class: "badge bad", style: "margin-left:.4rem" }, t("data.p.overdue")) : null) },
          ],
          page.items,
          { caption: t("data.p.list"), empty: t("common.none") },
        ),
      ),
    ),
  );
}

function privacyForm(ctx) {
  const kind = h("select", { name: "kind" }, KINDS.filter((k) => k !== "rectify").map((k) => option(k, t(`data.pk.${k}`), "access")));
  const subject = h("input", { name: "subject", required: true, autocomplete: "off" });
  const law = h("select", { name: "law" }, option("pdpa", "PDPA (TH)", "pdpa"), option("vn", "Nghị định 13 (VN)"), option("gdpr", "GDPR"));
  const result = live();
  return section(
    t("data.p.file"),
    h(
      "form",
      {
        class: "inline",
        onsubmit: async (event) => {
          event.preventDefault();
          clear(result);
          try {
            const made = await api("/api/privacy/requests", { method: "POST", body: { kind: kind.value, subject: subject.value.trim(), law: law.value } });
            toast(t("data.p.filed", { id: made.id, deadline: dateTime(made.deadline) }));
            ctx.navigate("/data/privacy");
          } catch (error) {
            clear(result, problem(error));
          }
        },
      },
      field(t("data.p.kind"), kind),
      field(t("data.p.subject"), subject),
      field(t("data.p.law"), law),
      h("button", { type: "submit" }, t("data.p.submit")),
    ),
    result,
  );
}

async function privacyRequest(body, ctx, id) {
  const r = await api(`/api/privacy/requests/${encodeURIComponent(id)}`);
  const result = live();
  const act = async (path, payload) => {
    clear(result);
    try {
      const done = await api(`/api/privacy/requests/${r.id}/${path}`, { method: "POST", body: payload });
      toast(t("data.p.done", { id: done.id, status: t(`data.ps.${done.status}`) }));
      if (ctx.isCurrent()) ctx.navigate(`/data/privacy/${r.id}`);
    } catch (error) {
      clear(result, problem(error));
    }
  };
  const open = r.status === "received" || r.status === "failed";
  const reason = h("input", { name: "reason", required: true });
  body.append(
    h("p", {}, h("a", { href: "#/data/privacy" }, t("data.p.back"))),
    section(
      t("data.p.open", { id: r.id }),
      h(
        "dl",
        { class: "kv" },
        h("dt", {}, t("data.p.kind")),
        h("dd", {}, t(`data.pk.${r.kind}`)),
        h("dt", {}, t("data.p.status")),
        h("dd", { id: "request-status" }, statusBadge(r)),
        h("dt", {}, t("data.p.subject")),
        h("dd", {}, r.subject || "–"),
        h("dt", {}, t("data.p.law")),
        h("dd", {}, r.law),
        h("dt", {}, t("data.p.by")),
        h("dd", {}, r.requested_by),
        h("dt", {}, t("data.p.received")),
        h("dd", {}, dateTime(r.received_at)),
        h("dt", {}, t("data.p.deadline")),
        h("dd", {}, dateTime(r.deadline), r.overdue ? h("span", { class: "badge bad", style: "margin-left:.4rem" }, t("data.p.overdue")) : null),
        r.error ? [h("dt", {}, t("data.p.error")), h("dd", { class: "bad" }, r.error)] : null,
      ),
      r.report ? [h("h3", {}, t("data.p.report")), h("pre", { style: "white-space:pre-wrap;overflow-wrap:anywhere" }, JSON.stringify(r.report, null, 2))] : null,
      ctx.can("privacy.manage") && r.kind === "access" && r.status === "completed"
        ? h(
            "p",
            { class: "row" },
            h("a", { href: downloadUrl(`/api/privacy/requests/${r.id}/export`), download: `privacy-request-${r.id}.json` }, t("data.p.export")),
            h("a", { href: downloadUrl(`/api/privacy/requests/${r.id}/export`, { format: "html" }), target: "_blank", rel: "noopener" }, t("data.p.exporthtml")),
          )
        : null,
      ctx.can("privacy.manage") && open
        ? h(
            "div",
            { class: "stack" },
            h("button", { type: "button", onclick: () => act("run") }, t("data.p.run")),
            h(
              "form",
              {
                class: "inline",
                onsubmit: (event) => {
                  event.preventDefault();
                  act("reject", { reason: reason.value });
                },
              },
              field(t("data.p.reason"), reason),
              h("button", { type: "submit", class: "danger" }, t("data.p.reject")),
            ),
          )
        : null,
      result,
    ),
  );
}

// --- audit log --------------------------------------------------------------------------------

async function auditTab(body, ctx) {
  const q = ctx.query;
  const actor = h("input", { name: "actor", value: q.get("actor") || "" });
  const action = h("input", { name: "action", value: q.get("action") || "" });
  const since = h("input", { name: "since", type: "date", value: q.get("since") || "" });
  const until = h("input", { name: "until", type: "date", value: q.get("until") || "" });
  const chain = live();
  const verify = h(
    "button",
    {
      type: "button",
      class: "secondary",
      onclick: async () => {
        verify.disabled = true;
        clear(chain);
        try {
          const c = await api("/api/audit/verify");
          clear(
            chain,
            h(
              "div",
              { class: c.ok ? "notice" : "error", id: "chain", "data-ok": String(c.ok) },
              c.ok ? t("data.a.ok", { n: c.rows }) : t("data.a.broken", { id: c.broken_at, reason: c.reason || "", n: c.rows }),
              h("div", { class: "muted", style: "overflow-wrap:anywhere" }, t("data.a.head", { head: c.head })),
            ),
          );
        } catch (error) {
          clear(chain, problem(error));
        } finally {
          verify.disabled = false;
        }
      },
    },
    t("data.a.verify"),
  );
  body.append(
    section(
      t("data.a.filters"),
      h(
        "form",
        {
          class: "inline",
          onsubmit: (event) => {
            event.preventDefault();
            ctx.navigate("/data/audit", { actor: actor.value.trim(), action: action.value.trim(), since: since.value, until: until.value });
          },
        },
        field(t("data.a.actor"), actor),
        field(t("data.a.action"), action),
        field(t("data.a.since"), since),
        field(t("data.a.until"), until),
        h("button", { type: "submit" }, t("data.a.apply")),
      ),
      h("div", { class: "row" }, verify),
      chain,
    ),
  );
  const query = { actor: q.get("actor"), action: q.get("action"), since: q.get("since"), until: q.get("until"), limit: 100 };
  const rows = h("div", { id: "audit-rows" });
  const more = h("div", {});
  body.append(section(t("data.tab.audit"), rows, more));
  const entries = [];
  const columns = [
    { label: t("data.a.at"), value: (e) => dateTime(e.at) },
    { label: t("data.a.actor"), value: (e) => e.actor },
    { label: t("data.a.role"), value: (e) => (e.role ? roleName(e.role) : "–") },
    { label: t("data.a.action"), value: (e) => e.action },
    { label: t("data.a.object"), value: (e) => [e.object_type, e.object_id].filter(Boolean).join(" ") || "–" },
    { label: t("data.a.client"), value: (e) => e.client || "–" },
    { label: t("data.a.outcome"), value: (e) => (e.detail && e.detail.status ? h("span", { class: e.detail.status >= 400 ? "bad" : null }, String(e.detail.status)) : "–"), num: true },
  ];
  const load = async (cursor) => {
    const page = await api("/api/audit", { query: { ...query, cursor } });
    entries.push(...page.items);
    rows.dataset.count = entries.length;
    clear(rows, table(columns, entries, { caption: t("data.tab.audit"), empty: t("common.none") }));
    clear(more, page.next ? h("button", { type: "button", class: "secondary", onclick: () => load(page.next).catch((e) => clear(more, problem(e))) }, t("common.more")) : null);
  };
  await load();
}

// --- API keys ---------------------------------------------------------------------------------

async function keysTab(body, ctx) {
  const keys = await api("/api/keys");
  const shown = live();
  const name = h("input", { name: "name", required: true, autocomplete: "off" });
  const role = h("select", { name: "role" }, ROLES.map((r) => option(r, roleName(r), "analyst")));
  const source = h("input", { name: "source", autocomplete: "off" });
  const form = h(
    "form",
    {
      class: "inline",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          const made = await api("/api/keys", { method: "POST", body: { name: name.value.trim(), role: role.value, source: source.value.trim() || undefined } });
          name.value = "";
          await redraw(secretBox(made));
        } catch (error) {
          clear(shown, problem(error));
        }
      },
    },
    field(t("data.k.name"), name),
    field(t("data.k.role"), role),
    field(t("data.k.source"), source),
    h("button", { type: "submit" }, t("data.k.make")),
  );
  const list = h("div", { id: "keys", "data-count": keys.length });
  body.append(section(t("data.k.create"), form, shown), section(t("data.tab.keys"), list));

  function secretBox(made) {
    return h("div", { class: "notice stack", id: "secret" }, h("p", {}, t("data.k.secret", { id: made.id, name: made.name })), h("code", { style: "overflow-wrap:anywhere;font-size:1.05rem", "data-secret": "" }, made.secret));
  }

  async function redraw(message) {
    const fresh = message === undefined ? keys : await api("/api/keys");
    if (!ctx.isCurrent()) return;
    list.dataset.count = fresh.length;
    clear(shown, message || null);
    clear(list, keysTable(fresh));
  }

  async function act(key, path, payload, say) {
    try {
      const done = await api(`/api/keys/${key.id}/${path}`, { method: "POST", body: payload });
      await redraw(say(done));
    } catch (error) {
      clear(shown, problem(error));
    }
  }

  function keysTable(all) {
    return table(
      [
        { label: t("data.k.id"), value: (k) => String(k.id), num: true },
        { label: t("data.k.name"), value: (k) => k.name },
        { label: t("data.k.role"), value: (k) => roleName(k.role) },
        { label: t("data.source"), value: (k) => k.source || "–" },
        { label: t("data.k.prefix"), value: (k) => h("code", {}, `${k.prefix}…`) },
        { label: t("data.k.created"), value: (k) => dateTime(k.created_at) },
        {
          label: t("data.k.state"),
          value: (k) =>
            h(
              "span",
              { class: k.state === "active" ? "badge good" : k.state === "rotated" ? "badge warn" : "badge bad", "data-state": k.state },
              k.state === "rotated" ? t("data.ks.rotated", { until: dateTime(k.expires_at) }) : k.state === "revoked" ? t("data.ks.revoked", { when: dateTime(k.revoked_at) }) : t(`data.ks.${k.state}`),
            ),
        },
        {
          label: t("data.k.actions"),
          value: (k) =>
            k.state === "active" || k.state === "rotated"
              ? h(
                  "div",
                  { class: "row" },
                  k.state === "active"
                    ? h(
                        "button",
                        { type: "button", class: "secondary", onclick: () => act(k, "rotate", { grace_s: 3600 }, (r) => [h("p", {}, t("data.k.rotated", { id: k.id, until: dateTime(r.old.expires_at) })), secretBox(r.new)]) },
                        t("data.k.rotate", { id: k.id }),
                      )
                    : null,
                  h("button", { type: "button", class: "danger", onclick: () => act(k, "revoke", undefined, () => h("p", { class: "notice" }, t("data.k.revoked", { id: k.id }))) }, t("data.k.revoke", { id: k.id })),
                )
              : "–",
        },
      ],
      all,
      { caption: t("data.tab.keys"), empty: t("common.none") },
    );
  }

  await redraw();
}

const RENDER = {
  sources: sourcesTab,
  quality: qualityTab,
  quarantine: quarantineTab,
  consents: consentsTab,
  privacy: privacyTab,
  audit: auditTab,
  keys: keysTab,
};
