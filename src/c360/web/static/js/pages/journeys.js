// Journeys: the list with status, entries and conversion (pause and resume there), one
// journey's definition and report (treatment against control, the uplift and its confidence
// interval), and a builder for a simple journey: a trigger, a wait, a condition and a message.
import { api, ApiError } from "../core/api.js";
import { barChart } from "../core/charts.js";
import { clear, errorBox, field, h, table, toast } from "../core/dom.js";
import { dateTime, number, percent, t } from "../core/i18n.js";

export const needs = ["journeys.read"];

export const messages = {
  en: {
    "jny.title": "Journeys",
    "jny.new": "New journey",
    "jny.name": "Name",
    "jny.status": "Status",
    "jny.status.active": "active",
    "jny.status.paused": "paused",
    "jny.active": "In it now",
    "jny.entries": "Entries",
    "jny.conversion": "Conversion",
    "jny.control": "Control",
    "jny.actions": "Actions",
    "jny.pause": "Pause",
    "jny.resume": "Resume",
    "jny.paused": "Journey {name} paused.",
    "jny.resumed": "Journey {name} resumed.",
    "jny.none": "No journeys yet.",
    "jny.edit": "Edit",
    "jny.definition": "Definition",
    "jny.trigger": "Trigger",
    "jny.trigger.event": "does {event}",
    "jny.trigger.where": "does {event} where {where}",
    "jny.trigger.segment": "enters segment {segment}",
    "jny.trigger.schedule": "every {days} at {at}",
    "jny.trigger.everyone": "everyone",
    "jny.entry_when": "Enters only when",
    "jny.reentry": "Enters again",
    "jny.exit_when": "Leaves when",
    "jny.goal": "Goal",
    "jny.goal.text": "{event} within {within}",
    "jny.holdout": "Control group",
    "jny.steps": "Steps",
    "jny.step.wait": "wait {d}",
    "jny.step.wait_until": "wait until {time} ({days})",
    "jny.step.wait_for": "wait for {event}, at most {timeout}",
    "jny.step.branch": "if {cond}",
    "jny.step.send": "send a {purpose} message on {channels}",
    "jny.step.set_trait": "set {name} to {value}",
    "jny.step.webhook": "call {url}",
    "jny.step.exit": "leave: {reason}",
    "jny.step.goto": "then go to {step}",
    "jny.report": "Report",
    "jny.treatment": "Treatment",
    "jny.conversions": "Conversions",
    "jny.rate": "Conversion rate",
    "jny.revenue": "Revenue",
    "jny.group": "Group",
    "jny.chart": "Conversion rate: treatment against control",
    "jny.uplift": "Uplift",
    "jny.uplift.text": "{abs} absolute (95% CI {low} to {high})",
    "jny.relative": "Relative uplift",
    "jny.pvalue": "p-value",
    "jny.noestimate": "Not estimated yet: {reasons}",
    "jny.sends": "Messages by channel",
    "jny.channel": "Channel",
    "jny.messages": "Messages",
    "jny.skipped": "Not sent, and why",
    "jny.rates": "Delivery {delivery}, opened {open}, clicked {click}",
    "jny.builder.new": "New journey",
    "jny.builder.edit": "Edit journey {name}",
    "jny.description": "Description",
    "jny.trigger.kind": "People enter when they",
    "jny.trigger.kind.event": "do something (an event)",
    "jny.trigger.kind.segment": "enter a segment",
    "jny.trigger.eventname": "Event name",
    "jny.trigger.segmentname": "Segment",
    "jny.wait": "Wait",
    "jny.wait.n": "How long",
    "jny.wait.hint": "Empty or 0: no wait.",
    "jny.unit": "Unit",
    "jny.unit.minutes": "minutes",
    "jny.unit.hours": "hours",
    "jny.unit.days": "days",
    "jny.condition": "Then continue only if",
    "jny.condition.hint": 'A condition in the segment language, e.g. rfm.label = "Champions". Empty: everyone continues.',
    "jny.send": "Message",
    "jny.channel.hint": "The message goes on this channel if the person can be reached and has consented.",
    "jny.purpose": "Purpose",
    "jny.purpose.marketing": "marketing",
    "jny.purpose.transactional": "transactional",
    "jny.subject": "Subject (email)",
    "jny.body": "Text",
    "jny.body.hint": "A template: {{ profile.first_name }}, {{ event.name }}…",
    "jny.goal.event": "Goal event",
    "jny.goal.hint": "Counted as a conversion in both groups. Empty: no goal.",
    "jny.goal.within": "Within (hours)",
    "jny.control.pct": "Hold out for control (%)",
    "jny.exit.hint": "A condition in the segment language, checked before every step. Empty: none.",
    "jny.save": "Save journey",
    "jny.saved": "Journey {name} saved.",
    "jny.raw": "Definition (YAML or JSON)",
    "jny.raw.hint": "This journey has more steps than the form shows; edit its definition here (docs/journeys.md).",
    "jny.draft": "What will be saved",
    "jny.preview": "Message preview",
    "jny.preview.profile": "Profile",
    "jny.preview.event": "Event name for {{ event.name }}",
    "jny.preview.button": "Preview",
    "jny.preview.draft": "Shows the message as written above, saved or not.",
    "jny.preview.subject": "Subject",
    "jny.preview.body": "Text",
    "jny.preview.html": "HTML",
  },
  th: {
    "jny.title": "เส้นทางลูกค้า",
    "jny.new": "สร้างเส้นทางลูกค้าใหม่",
    "jny.name": "ชื่อ",
    "jny.status": "สถานะ",
    "jny.status.active": "ทำงานอยู่",
    "jny.status.paused": "หยุดชั่วคราว",
    "jny.active": "อยู่ในเส้นทางขณะนี้",
    "jny.entries": "จำนวนที่เข้า",
    "jny.conversion": "อัตราการเปลี่ยน",
    "jny.control": "กลุ่มควบคุม",
    "jny.actions": "การดำเนินการ",
    "jny.pause": "หยุดชั่วคราว",
    "jny.resume": "ดำเนินการต่อ",
    "jny.paused": "หยุดเส้นทางลูกค้า {name} ชั่วคราวแล้ว",
    "jny.resumed": "เส้นทางลูกค้า {name} ทำงานต่อแล้ว",
    "jny.none": "ยังไม่มีเส้นทางลูกค้า",
    "jny.edit": "แก้ไข",
    "jny.definition": "นิยาม",
    "jny.trigger": "ตัวกระตุ้น",
    "jny.trigger.event": "ทำ {event}",
    "jny.trigger.where": "ทำ {event} โดยที่ {where}",
    "jny.trigger.segment": "เข้ากลุ่มลูกค้า {segment}",
    "jny.trigger.schedule": "ทุก {days} เวลา {at}",
    "jny.trigger.everyone": "ทุกคน",
    "jny.entry_when": "เข้าได้เฉพาะเมื่อ",
    "jny.reentry": "เข้าซ้ำ",
    "jny.exit_when": "ออกเมื่อ",
    "jny.goal": "เป้าหมาย",
    "jny.goal.text": "{event} ภายใน {within}",
    "jny.holdout": "กลุ่มควบคุม",
    "jny.steps": "ขั้นตอน",
    "jny.step.wait": "รอ {d}",
    "jny.step.wait_until": "รอจนถึง {time} ({days})",
    "jny.step.wait_for": "รอ {event} นานสุด {timeout}",
    "jny.step.branch": "ถ้า {cond}",
    "jny.step.send": "ส่งข้อความ{purpose}ทาง {channels}",
    "jny.step.set_trait": "ตั้งค่า {name} เป็น {value}",
    "jny.step.webhook": "เรียก {url}",
    "jny.step.exit": "ออก: {reason}",
    "jny.step.goto": "แล้วไปที่ {step}",
    "jny.report": "รายงาน",
    "jny.treatment": "กลุ่มทดลอง",
    "jny.conversions": "จำนวนที่เปลี่ยน",
    "jny.rate": "อัตราการเปลี่ยน",
    "jny.revenue": "รายได้",
    "jny.group": "กลุ่ม",
    "jny.chart": "อัตราการเปลี่ยน: กลุ่มทดลองเทียบกับกลุ่มควบคุม",
    "jny.uplift": "ส่วนเพิ่ม",
    "jny.uplift.text": "{abs} แบบสัมบูรณ์ (ช่วงความเชื่อมั่น 95% {low} ถึง {high})",
    "jny.relative": "ส่วนเพิ่มสัมพัทธ์",
    "jny.pvalue": "ค่า p",
    "jny.noestimate": "ยังประมาณค่าไม่ได้: {reasons}",
    "jny.sends": "ข้อความตามช่องทาง",
    "jny.channel": "ช่องทาง",
    "jny.messages": "ข้อความ",
    "jny.skipped": "ไม่ได้ส่ง และเหตุผล",
    "jny.rates": "ส่งถึง {delivery} เปิดอ่าน {open} คลิก {click}",
    "jny.builder.new": "สร้างเส้นทางลูกค้าใหม่",
    "jny.builder.edit": "แก้ไขเส้นทางลูกค้า {name}",
    "jny.description": "คำอธิบาย",
    "jny.trigger.kind": "ลูกค้าเข้าเส้นทางเมื่อ",
    "jny.trigger.kind.event": "ทำบางอย่าง (เหตุการณ์)",
    "jny.trigger.kind.segment": "เข้ากลุ่มลูกค้า",
    "jny.trigger.eventname": "ชื่อเหตุการณ์",
    "jny.trigger.segmentname": "กลุ่มลูกค้า",
    "jny.wait": "รอ",
    "jny.wait.n": "นานเท่าใด",
    "jny.wait.hint": "เว้นว่างหรือ 0: ไม่ต้องรอ",
    "jny.unit": "หน่วย",
    "jny.unit.minutes": "นาที",
    "jny.unit.hours": "ชั่วโมง",
    "jny.unit.days": "วัน",
    "jny.condition": "จากนั้นไปต่อเฉพาะเมื่อ",
    "jny.condition.hint": 'เงื่อนไขในภาษาของกลุ่มลูกค้า เช่น rfm.label = "Champions" เว้นว่าง: ทุกคนไปต่อ',
    "jny.send": "ข้อความ",
    "jny.channel.hint": "ส่งข้อความทางช่องทางนี้ หากติดต่อได้และได้รับความยินยอมแล้ว",
    "jny.purpose": "วัตถุประสงค์",
    "jny.purpose.marketing": "การตลาด",
    "jny.purpose.transactional": "ธุรกรรม",
    "jny.subject": "หัวเรื่อง (อีเมล)",
    "jny.body": "ข้อความ",
    "jny.body.hint": "เทมเพลต: {{ profile.first_name }}, {{ event.name }}…",
    "jny.goal.event": "เหตุการณ์เป้าหมาย",
    "jny.goal.hint": "นับเป็นการเปลี่ยนในทั้งสองกลุ่ม เว้นว่าง: ไม่มีเป้าหมาย",
    "jny.goal.within": "ภายใน (ชั่วโมง)",
    "jny.control.pct": "กันไว้เป็นกลุ่มควบคุม (%)",
    "jny.exit.hint": "เงื่อนไขในภาษาของกลุ่มลูกค้า ตรวจก่อนทุกขั้นตอน เว้นว่าง: ไม่มี",
    "jny.save": "บันทึกเส้นทางลูกค้า",
    "jny.saved": "บันทึกเส้นทางลูกค้า {name} แล้ว",
    "jny.raw": "นิยาม (YAML หรือ JSON)",
    "jny.raw.hint": "เส้นทางนี้มีขั้นตอนมากกว่าที่แบบฟอร์มแสดง แก้ไขนิยามได้ที่นี่ (docs/journeys.md)",
    "jny.draft": "สิ่งที่จะบันทึก",
    "jny.preview": "ตัวอย่างข้อความ",
    "jny.preview.profile": "โปรไฟล์",
    "jny.preview.event": "ชื่อเหตุการณ์สำหรับ {{ event.name }}",
    "jny.preview.button": "แสดงตัวอย่าง",
    "jny.preview.draft": "แสดงข้อความตามที่เขียนไว้ด้านบน ไม่ว่าจะบันทึกแล้วหรือไม่",
    "jny.preview.subject": "หัวเรื่อง",
    "jny.preview.body": "ข้อความ",
    "jny.preview.html": "HTML",
  },
  vi: {
    "jny.title": "Hành trình",
    "jny.new": "Hành trình mới",
    "jny.name": "Tên",
    "jny.status": "Trạng thái",
    "jny.status.active": "đang chạy",
    "jny.status.paused": "tạm dừng",
    "jny.active": "Đang trong hành trình",
    "jny.entries": "Lượt tham gia",
    "jny.conversion": "Chuyển đổi",
    "jny.control": "Đối chứng",
    "jny.actions": "Thao tác",
    "jny.pause": "Tạm dừng",
    "jny.resume": "Tiếp tục",
    "jny.paused": "Đã tạm dừng hành trình {name}.",
    "jny.resumed": "Đã tiếp tục hành trình {name}.",
    "jny.none": "Chưa có hành trình nào.",
    "jny.edit": "Sửa",
    "jny.definition": "Định nghĩa",
    "jny.trigger": "Kích hoạt",
    "jny.trigger.event": "thực hiện {event}",
    "jny.trigger.where": "thực hiện {event} khi {where}",
    "jny.trigger.segment": "vào phân khúc {segment}",
    "jny.trigger.schedule": "mỗi {days} lúc {at}",
    "jny.trigger.everyone": "mọi người",
    "jny.entry_when": "Chỉ tham gia khi",
    "jny.reentry": "Tham gia lại",
    "jny.exit_when": "Rời khi",
    "jny.goal": "Mục tiêu",
    "jny.goal.text": "{event} trong vòng {within}",
    "jny.holdout": "Nhóm đối chứng",
    "jny.steps": "Các bước",
    "jny.step.wait": "chờ {d}",
    "jny.step.wait_until": "chờ đến {time} ({days})",
    "jny.step.wait_for": "chờ {event}, tối đa {timeout}",
    "jny.step.branch": "nếu {cond}",
    "jny.step.send": "gửi tin {purpose} qua {channels}",
    "jny.step.set_trait": "đặt {name} thành {value}",
    "jny.step.webhook": "gọi {url}",
    "jny.step.exit": "rời: {reason}",
    "jny.step.goto": "rồi đến {step}",
    "jny.report": "Báo cáo",
    "jny.treatment": "Nhóm can thiệp",
    "jny.conversions": "Lượt chuyển đổi",
    "jny.rate": "Tỷ lệ chuyển đổi",
    "jny.revenue": "Doanh thu",
    "jny.group": "Nhóm",
    "jny.chart": "Tỷ lệ chuyển đổi: nhóm can thiệp so với nhóm đối chứng",
    "jny.uplift": "Mức tăng",
    "jny.uplift.text": "{abs} tuyệt đối (KTC 95% từ {low} đến {high})",
    "jny.relative": "Mức tăng tương đối",
    "jny.pvalue": "Giá trị p",
    "jny.noestimate": "Chưa ước lượng được: {reasons}",
    "jny.sends": "Tin nhắn theo kênh",
    "jny.channel": "Kênh",
    "jny.messages": "Tin nhắn",
    "jny.skipped": "Không gửi và lý do",
    "jny.rates": "Đã đến {delivery}, đã mở {open}, đã nhấp {click}",
    "jny.builder.new": "Hành trình mới",
    "jny.builder.edit": "Sửa hành trình {name}",
    "jny.description": "Mô tả",
    "jny.trigger.kind": "Khách tham gia khi",
    "jny.trigger.kind.event": "thực hiện một việc (sự kiện)",
    "jny.trigger.kind.segment": "vào một phân khúc",
    "jny.trigger.eventname": "Tên sự kiện",
    "jny.trigger.segmentname": "Phân khúc",
    "jny.wait": "Chờ",
    "jny.wait.n": "Bao lâu",
    "jny.wait.hint": "Để trống hoặc 0: không chờ.",
    "jny.unit": "Đơn vị",
    "jny.unit.minutes": "phút",
    "jny.unit.hours": "giờ",
    "jny.unit.days": "ngày",
    "jny.condition": "Sau đó chỉ tiếp tục nếu",
    "jny.condition.hint": 'Một điều kiện trong ngôn ngữ phân khúc, ví dụ rfm.label = "Champions". Để trống: mọi người đều tiếp tục.',
    "jny.send": "Tin nhắn",
    "jny.channel.hint": "Tin nhắn được gửi qua kênh này nếu liên hệ được và đã có sự đồng ý.",
    "jny.purpose": "Mục đích",
    "jny.purpose.marketing": "tiếp thị",
    "jny.purpose.transactional": "giao dịch",
    "jny.subject": "Tiêu đề (email)",
    "jny.body": "Nội dung",
    "jny.body.hint": "Một mẫu: {{ profile.first_name }}, {{ event.name }}…",
    "jny.goal.event": "Sự kiện mục tiêu",
    "jny.goal.hint": "Được tính là chuyển đổi ở cả hai nhóm. Để trống: không có mục tiêu.",
    "jny.goal.within": "Trong vòng (giờ)",
    "jny.control.pct": "Giữ lại làm nhóm đối chứng (%)",
    "jny.exit.hint": "Một điều kiện trong ngôn ngữ phân khúc, kiểm tra trước mỗi bước. Để trống: không có.",
    "jny.save": "Lưu hành trình",
    "jny.saved": "Đã lưu hành trình {name}.",
    "jny.raw": "Định nghĩa (YAML hoặc JSON)",
    "jny.raw.hint": "Hành trình này có nhiều bước hơn biểu mẫu hiển thị; hãy sửa định nghĩa tại đây (docs/journeys.md).",
    "jny.draft": "Nội dung sẽ được lưu",
    "jny.preview": "Xem trước tin nhắn",
    "jny.preview.profile": "Hồ sơ",
    "jny.preview.event": "Tên sự kiện cho {{ event.name }}",
    "jny.preview.button": "Xem trước",
    "jny.preview.draft": "Hiển thị tin nhắn như đã viết ở trên, dù đã lưu hay chưa.",
    "jny.preview.subject": "Tiêu đề",
    "jny.preview.body": "Nội dung",
    "jny.preview.html": "HTML",
  },
};

const CHANNELS = ["email", "line", "zalo", "sms", "push"];
const journeyPath = (name) => `/api/journeys/${encodeURIComponent(name)}`;
const journeyHash = (name) => `#/journeys/${encodeURIComponent(name)}`;
// app.css sets textareas in a monospace font; Thai and Vietnamese fall back to the bundled fonts
const MONO = "font-family:ui-monospace,monospace,'Noto Sans Thai','Noto Sans'";
const rate = (value) => (value === null || value === undefined ? "–" : percent(value));

export async function render(view, ctx) {
  const rest = ctx.params[0];
  if (!rest) return showList(view, ctx);
  const editing = rest.match(/^(.+)\/edit$/);
  if (rest === "new" || editing) {
    if (!ctx.can("journeys.write")) {
      view.append(h("h1", {}, t("jny.title")), h("p", { class: "notice" }, t("common.forbidden")));
      return;
    }
    return showBuilder(view, ctx, editing ? editing[1] : null);
  }
  return showJourney(view, ctx, rest);
}

function statusBadge(status) {
  return h("span", { class: ["badge", status === "active" ? "good" : "warn"], "data-status": status }, t(`jny.status.${status}`));
}

// Pause or resume, then draw the page again with what the server says now.
function toggleButton(ctx, journey, redraw) {
  if (!ctx.can("journeys.write")) return null;
  const pausing = journey.status === "active";
  return h(
    "button",
    {
      type: "button",
      class: "secondary",
      "aria-label": `${t(pausing ? "jny.pause" : "jny.resume")} ${journey.name}`,
      onclick: async (event) => {
        event.target.disabled = true;
        try {
          await api(`${journeyPath(journey.name)}/${pausing ? "pause" : "resume"}`, { method: "POST" });
          toast(t(pausing ? "jny.paused" : "jny.resumed", { name: journey.name }));
          await redraw();
        } catch (error) {
          event.target.disabled = false;
          toast(error.message);
        }
      },
    },
    t(pausing ? "jny.pause" : "jny.resume"),
  );
}

// Draws a page into a detached element first, so a redraw replaces the old one at once.
async function drawInto(view, ctx, draw) {
  const fresh = h("div");
  await draw(fresh, () => drawInto(view, ctx, draw));
  if (ctx.isCurrent()) clear(view, ...fresh.childNodes);
}

function showList(view, ctx) {
  return drawInto(view, ctx, (into, redraw) => listInto(into, ctx, redraw));
}

async function listInto(view, ctx, redraw) {
  const { journeys } = await api("/api/journeys");
  const reports = await Promise.all(journeys.map((j) => api(`${journeyPath(j.name)}/report`).catch(() => null)));
  const rows = journeys.map((j, i) => ({ ...j, report: reports[i] }));
  view.append(
    h(
      "div",
      { class: "row", style: "justify-content:space-between" },
      h("h1", {}, t("jny.title")),
      ctx.can("journeys.write") ? h("a", { class: "button", href: "#/journeys/new" }, t("jny.new")) : null,
    ),
    table(
      [
        { label: t("jny.name"), value: (j) => h("a", { href: journeyHash(j.name) }, j.name) },
        { label: t("jny.status"), value: (j) => statusBadge(j.status) },
        { label: t("jny.entries"), value: (j) => number(j.total_entries), num: true },
        { label: t("jny.active"), value: (j) => number(j.active_entries), num: true },
        { label: t("jny.conversion"), value: (j) => rate(j.report && j.report.treatment.conversion_rate), num: true },
        { label: t("jny.control"), value: (j) => rate(j.report && j.report.control.conversion_rate), num: true },
        ctx.can("journeys.write") ? { label: t("jny.actions"), value: (j) => toggleButton(ctx, j, redraw) } : null,
      ].filter(Boolean),
      rows,
      { caption: t("jny.title"), empty: t("jny.none") },
    ),
  );
  view.querySelectorAll("tbody tr").forEach((row, i) => (row.dataset.journey = rows[i].name));
}

function describeTrigger(trigger) {
  if (trigger.event) return trigger.where ? t("jny.trigger.where", { event: trigger.event, where: trigger.where }) : t("jny.trigger.event", { event: trigger.event });
  if (trigger.segment) return t("jny.trigger.segment", { segment: trigger.segment });
  const s = trigger.schedule || {};
  const who = s.segment ? t("jny.trigger.segment", { segment: s.segment }) : t("jny.trigger.everyone");
  return `${t("jny.trigger.schedule", { days: (s.days || []).join(", "), at: s.at || "09:00" })}: ${who}`;
}

function describeStep(step) {
  const parts = [];
  if (step.wait) parts.push(t("jny.step.wait", { d: step.wait }));
  if (step.wait_until) parts.push(t("jny.step.wait_until", { time: step.wait_until.time, days: (step.wait_until.days || []).join(", ") }));
  if (step.wait_for) parts.push(t("jny.step.wait_for", { event: step.wait_for.event, timeout: step.wait_for.timeout }));
  if (step.branch) parts.push(t("jny.step.branch", { cond: step.branch.if }));
  if (step.send) parts.push(t("jny.step.send", { purpose: t(`jny.purpose.${step.send.purpose || "marketing"}`), channels: (step.send.channels || []).join(", ") }));
  if (step.set_trait) parts.push(t("jny.step.set_trait", { name: step.set_trait.name, value: JSON.stringify(step.set_trait.value) }));
  if (step.webhook) parts.push(t("jny.step.webhook", { url: step.webhook.url }));
  if (step.exit) parts.push(t("jny.step.exit", { reason: step.exit }));
  const jumps = [step.next, step.branch && step.branch.then, step.branch && step.branch.else].filter(Boolean);
  return h(
    "li",
    { "data-step": step.id },
    h("strong", {}, step.id), ": ", parts.join("; "),
    jumps.length ? h("span", { class: "muted" }, ` (${jumps.map((s) => t("jny.step.goto", { step: s })).join(", ")})`) : null,
    step.send && step.send.template
      ? h("pre", { style: `${MONO};white-space:pre-wrap;overflow-wrap:anywhere;margin:.25rem 0 0` }, [step.send.template.subject, step.send.template.body].filter(Boolean).join("\n\n"))
      : null,
  );
}

function definitionCard(definition) {
  const kv = (label, value) => (value === undefined || value === null || value === "" ? null : [h("dt", {}, label), h("dd", {}, value)]);
  return h(
    "section",
    { class: "card", id: "jny-definition" },
    h("h2", {}, t("jny.definition")),
    definition.description ? h("p", {}, definition.description) : null,
    h(
      "dl",
      { class: "kv" },
      kv(t("jny.trigger"), describeTrigger(definition.trigger)),
      kv(t("jny.entry_when"), definition.entry_when && h("code", {}, definition.entry_when)),
      kv(t("jny.reentry"), definition.reentry),
      kv(t("jny.exit_when"), definition.exit_when && h("code", {}, definition.exit_when)),
      kv(t("jny.goal"), definition.goal && t("jny.goal.text", { event: definition.goal.event, within: definition.goal.within })),
      kv(t("jny.holdout"), percent(definition.control || 0, 0)),
    ),
    h("h3", {}, t("jny.steps")),
    h("ol", {}, definition.steps.map(describeStep)),
  );
}

function reportCard(report) {
  const u = report.uplift;
  const arms = [
    ["treatment", t("jny.treatment"), report.treatment],
    ["control", t("jny.control"), report.control],
  ];
  const upliftText =
    u.absolute === null || u.absolute === undefined
      ? "–"
      : u.absolute_ci
        ? t("jny.uplift.text", { abs: percent(u.absolute), low: percent(u.absolute_ci.low), high: percent(u.absolute_ci.high) })
        : percent(u.absolute);
  const sends = Object.entries(report.sends_by_channel || {}).flatMap(([channel, byStatus]) =>
    Object.entries(byStatus).map(([status, n]) => ({ channel, status, n })),
  );
  const skipped = Object.entries(report.skipped_reasons || {});
  return h(
    "section",
    { class: "card stack", id: "jny-report" },
    h("h2", {}, t("jny.report")),
    h(
      "div",
      { class: "grid" },
      h("div", { "data-stat": "entries" }, h("div", { class: "muted" }, t("jny.entries")), h("div", { class: "stat" }, number(report.entries))),
      h("div", { "data-stat": "active" }, h("div", { class: "muted" }, t("jny.active")), h("div", { class: "stat" }, number(report.active))),
      h("div", { "data-stat": "uplift" }, h("div", { class: "muted" }, t("jny.uplift")), h("div", { class: "stat" }, u.absolute === null || u.absolute === undefined ? "–" : percent(u.absolute)), h("div", { id: "jny-uplift" }, upliftText)),
    ),
    table(
      [
        { label: t("jny.group"), value: (a) => a[1] },
        { label: t("jny.entries"), value: (a) => number(a[2].entries), num: true },
        { label: t("jny.conversions"), value: (a) => number(a[2].conversions), num: true },
        { label: t("jny.rate"), value: (a) => rate(a[2].conversion_rate), num: true },
        { label: t("jny.revenue"), value: (a) => number(a[2].revenue, { minimumFractionDigits: 2, maximumFractionDigits: 2 }), num: true },
      ],
      arms,
      { caption: t("jny.report") },
    ),
    h(
      "div",
      { style: "max-width:32rem" },
      barChart({
        title: t("jny.chart"),
        labels: arms.map((a) => a[1]),
        series: [{ name: t("jny.rate"), values: arms.map((a) => a[2].conversion_rate || 0) }],
        format: (v) => percent(v),
      }),
    ),
    h(
      "dl",
      { class: "kv" },
      h("dt", {}, t("jny.relative")),
      h("dd", {}, u.relative === null || u.relative === undefined ? "–" : u.relative_ci ? `${percent(u.relative)} (${percent(u.relative_ci.low)} – ${percent(u.relative_ci.high)})` : percent(u.relative)),
      h("dt", {}, t("jny.pvalue")),
      h("dd", {}, u.p_value === null || u.p_value === undefined ? "–" : number(u.p_value, { maximumFractionDigits: 4 })),
    ),
    u.reasons && u.reasons.length ? h("p", { class: "muted" }, t("jny.noestimate", { reasons: u.reasons.join("; ") })) : null,
    sends.length
      ? [
          h("h3", {}, t("jny.sends")),
          h("p", { class: "muted" }, t("jny.rates", { delivery: rate(report.delivery_rate), open: rate(report.open_rate), click: rate(report.click_rate) })),
          table(
            [
              { label: t("jny.channel"), value: (s) => s.channel },
              { label: t("jny.status"), value: (s) => s.status },
              { label: t("jny.messages"), value: (s) => number(s.n), num: true },
            ],
            sends,
            { caption: t("jny.sends") },
          ),
        ]
      : null,
    skipped.length
      ? [h("h3", {}, t("jny.skipped")), h("ul", {}, skipped.map(([reason, n]) => h("li", {}, `${reason}: ${number(n)}`)))]
      : null,
  );
}

function showJourney(view, ctx, name) {
  return drawInto(view, ctx, (into, redraw) => journeyInto(into, ctx, name, redraw));
}

async function journeyInto(view, ctx, name, redraw) {
  const [journey, report] = await Promise.all([api(journeyPath(name)), api(`${journeyPath(name)}/report`)]);
  view.append(
    h("div", { class: "row" }, h("h1", {}, journey.name), statusBadge(journey.status)),
    h(
      "div",
      { class: "row" },
      ctx.can("journeys.write") ? h("a", { class: "button", href: `${journeyHash(name)}/edit` }, t("jny.edit")) : null,
      toggleButton(ctx, journey, redraw),
      h("span", { class: "muted" }, dateTime(journey.updated_at_us / 1000)),
    ),
    h("div", { class: "stack", style: "margin-top:1rem" }, reportCard(report), definitionCard(journey.definition)),
  );
}

// The form covers journeys of this shape: optional wait, optional condition, one send step.
function simpleSteps(definition) {
  const found = { wait: null, branch: null, send: null };
  let order = 0;
  for (const step of definition.steps) {
    const keys = Object.keys(step).filter((k) => k !== "id");
    if (keys.length !== 1) return null;
    const position = ["wait", "branch", "send"].indexOf(keys[0]);
    if (position < order || found[keys[0]]) return null;
    if (keys[0] === "branch" && (step.branch.then || step.branch.else !== "end")) return null;
    found[keys[0]] = step;
    order = position;
  }
  return found.send ? found : null;
}

function splitWait(text) {
  const m = /^(\d+)\s*(m|min|mins|minutes?|h|hours?|d|days?)$/i.exec((text || "").trim());
  if (!m) return null;
  const unit = m[2][0].toLowerCase();
  return { n: m[1], unit: unit === "m" ? "minutes" : unit === "h" ? "hours" : "days" };
}

async function showBuilder(view, ctx, name) {
  const existing = name ? await api(journeyPath(name)) : null;
  const segments = ctx.can("segments.read") ? (await api("/api/segments").catch(() => ({ segments: [] }))).segments : [];
  const def = existing ? existing.definition : null;
  const simple = def ? simpleSteps(def) : {};
  const result = h("div", { "aria-live": "assertive" });
  view.append(h("h1", {}, existing ? t("jny.builder.edit", { name: existing.name }) : t("jny.builder.new")));

  const saveWith = async (definition) => {
    clear(result);
    try {
      const saved = existing
        ? await api(journeyPath(existing.name), { method: "PUT", body: { definition } })
        : await api("/api/journeys", { method: "POST", body: { definition } });
      toast(t("jny.saved", { name: saved.name }));
      ctx.navigate(`/journeys/${encodeURIComponent(saved.name)}`);
    } catch (error) {
      clear(result, errorBox(error));
    }
  };

  if (existing && !simple) {
    // more than the form can show: the definition itself, as its author wrote it
    const raw = h("textarea", { rows: 20, spellcheck: "false", style: MONO, value: existing.text || JSON.stringify(def, null, 2) });
    view.append(
      h(
        "form",
        { class: "card stack", onsubmit: (e) => (e.preventDefault(), saveWith(existing.text ? raw.value : parseJson(raw.value))) },
        h("p", { class: "notice" }, t("jny.raw.hint")),
        field(t("jny.raw"), raw),
        result,
        h("button", { type: "submit" }, t("jny.save")),
      ),
    );
    return;
  }

  const trigger = def ? def.trigger : {};
  const wait = simple.wait ? splitWait(simple.wait.wait) : null;
  const send = simple.send ? simple.send.send : { channels: ["email"], purpose: "marketing", template: {} };
  const nameInput = h("input", { required: true, maxlength: 100, value: existing ? existing.name : "", disabled: !!existing, autocomplete: "off" });
  const description = h("input", { maxlength: 2000, size: 40, value: def ? def.description || "" : "" });
  const kind = h(
    "select",
    {},
    h("option", { value: "event", selected: !trigger.segment }, t("jny.trigger.kind.event")),
    h("option", { value: "segment", selected: !!trigger.segment }, t("jny.trigger.kind.segment")),
  );
  const eventName = h("input", { maxlength: 200, value: trigger.event || "", list: "jny-events", autocomplete: "off" });
  const segmentName = h(
    "select",
    {},
    segments.map((s) => h("option", { value: s.name, selected: s.name === trigger.segment }, `${s.name} (${number(s.members)})`)),
  );
  const waitN = h("input", { type: "number", min: 0, max: 999999, size: 6, value: wait ? wait.n : "" });
  const waitUnit = h("select", {}, ["minutes", "hours", "days"].map((u) => h("option", { value: u, selected: (wait ? wait.unit : "hours") === u }, t(`jny.unit.${u}`))));
  const condition = h("textarea", { rows: 2, spellcheck: "false", style: MONO, value: simple.branch ? simple.branch.branch.if : "" });
  const channel = h("select", {}, CHANNELS.map((c) => h("option", { value: c, selected: (send.channels || [])[0] === c }, c)));
  const purpose = h("select", {}, ["marketing", "transactional"].map((p) => h("option", { value: p, selected: (send.purpose || "marketing") === p }, t(`jny.purpose.${p}`))));
  const subject = h("input", { maxlength: 2000, size: 40, value: send.template.subject || "" });
  const body = h("textarea", { rows: 4, required: true, style: MONO, value: send.template.body || "" });
  const goalEvent = h("input", { maxlength: 200, list: "jny-events", autocomplete: "off", value: def && def.goal ? def.goal.event : "" });
  const goalWithin = h("input", { type: "number", min: 1, max: 100000, size: 6, value: def && def.goal ? (splitWait(def.goal.within) || {}).n || 72 : 72 });
  const control = h("input", { type: "number", min: 0, max: 90, step: 1, size: 4, value: def ? Math.round((def.control || 0) * 100) : 10 });
  const exitWhen = h("textarea", { rows: 2, spellcheck: "false", style: MONO, value: def ? def.exit_when || "" : "" });
  const draft = h("pre", { id: "jny-draft", style: `${MONO};white-space:pre-wrap;overflow-wrap:anywhere;margin:0` });
  const eventField = field(t("jny.trigger.eventname"), eventName);
  const segmentField = field(t("jny.trigger.segmentname"), segmentName);

  const definition = () => {
    const steps = [];
    const n = parseInt(waitN.value, 10);
    if (n > 0) steps.push({ id: "wait", wait: `${n} ${n === 1 ? waitUnit.value.slice(0, -1) : waitUnit.value}` });
    if (condition.value.trim()) steps.push({ id: "check", branch: { if: condition.value.trim(), else: "end" } });
    const template = { body: body.value };
    if (subject.value.trim()) template.subject = subject.value;
    steps.push({ id: simple.send ? simple.send.id : "send", send: { ...(simple.send ? simple.send.send : {}), channels: [channel.value], purpose: purpose.value, template: { ...(simple.send ? simple.send.send.template : {}), ...template } } });
    const out = { ...(def || {}), name: existing ? existing.name : nameInput.value.trim(), steps };
    out.description = description.value.trim();
    out.trigger = kind.value === "segment" ? { segment: segmentName.value } : { event: eventName.value.trim() };
    if (goalEvent.value.trim()) out.goal = { ...((def && def.goal) || {}), event: goalEvent.value.trim(), within: `${parseInt(goalWithin.value, 10) || 72} hours` };
    else delete out.goal;
    out.control = Math.min(90, Math.max(0, parseFloat(control.value) || 0)) / 100;
    if (exitWhen.value.trim()) out.exit_when = exitWhen.value.trim();
    else delete out.exit_when;
    return out;
  };
  const sync = () => {
    eventField.hidden = kind.value !== "event";
    segmentField.hidden = kind.value !== "segment";
    draft.textContent = JSON.stringify(definition(), null, 2);
  };

  const form = h(
    "form",
    {
      class: "card stack",
      id: "jny-form",
      oninput: sync,
      onchange: sync,
      onsubmit: (e) => {
        e.preventDefault();
        saveWith(definition());
      },
    },
    field(t("jny.name"), nameInput),
    field(t("jny.description"), description),
    h(
      "fieldset",
      { class: "stack" },
      h("legend", {}, t("jny.trigger")),
      field(t("jny.trigger.kind"), kind),
      eventField,
      segmentField,
    ),
    h("fieldset", { class: "row", style: "align-items:end" }, h("legend", {}, t("jny.wait")), field(t("jny.wait.n"), waitN, t("jny.wait.hint")), field(t("jny.unit"), waitUnit)),
    field(t("jny.condition"), condition, t("jny.condition.hint")),
    h(
      "fieldset",
      { class: "stack" },
      h("legend", {}, t("jny.send")),
      h("div", { class: "row", style: "align-items:end" }, field(t("jny.channel"), channel, t("jny.channel.hint")), field(t("jny.purpose"), purpose)),
      field(t("jny.subject"), subject),
      field(t("jny.body"), body, t("jny.body.hint")),
    ),
    h(
      "fieldset",
      { class: "row", style: "align-items:end" },
      h("legend", {}, t("jny.goal")),
      field(t("jny.goal.event"), goalEvent, t("jny.goal.hint")),
      field(t("jny.goal.within"), goalWithin),
      field(t("jny.control.pct"), control),
    ),
    field(t("jny.exit_when"), exitWhen, t("jny.exit.hint")),
    h("datalist", { id: "jny-events" }, ["Order Completed", "Product Added", "Product Viewed", "Checkout Started"].map((e) => h("option", { value: e }))),
    result,
    h("button", { type: "submit" }, t("jny.save")),
  );
  view.append(
    h(
      "div",
      { class: "grid wide" },
      form,
      h(
        "div",
        { class: "stack" },
        previewCard(ctx, existing, () => ({ ...(send.template || {}), subject: subject.value.trim() ? subject.value : undefined, body: body.value }), eventName, segments),
        h("section", { class: "card" }, h("h2", {}, t("jny.draft")), draft),
      ),
    ),
  );
  sync();
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

// The message being written, as one profile would get it now (nothing is sent; the builder's
// template need not be saved: POST /api/journeys/preview renders it in the same sandbox).
function previewCard(ctx, existing, template, triggerEvent, segments) {
  const card = h("section", { class: "card stack", id: "jny-preview" }, h("h2", {}, t("jny.preview")));
  const profile = h("select", {});
  const eventName = h("input", { maxlength: 200, value: triggerEvent.value || "" });
  const out = h("div", { "aria-live": "polite", id: "jny-preview-out" });
  // a few profiles to try it on: members of the first segment the role can read, else any
  const candidates = segments.length ? api(`/api/segments/${encodeURIComponent(segments[0].name)}/members`, { query: { limit: 10 } }).then((p) => p.members.map((m) => ({ id: m.profile_id, name: m.name }))) : Promise.resolve([]);
  candidates
    .catch(() => [])
    .then((people) => {
      profile.replaceChildren(...people.map((p) => h("option", { value: p.id }, p.name ? `${p.name} (${p.id})` : p.id)));
    });
  const manual = h("input", { maxlength: 36, autocomplete: "off", placeholder: "…" });
  card.append(
    h("p", { class: "muted" }, t("jny.preview.draft")),
    h(
      "form",
      {
        class: "stack",
        onsubmit: async (e) => {
          e.preventDefault();
          const pid = manual.value.trim() || profile.value;
          try {
            const timezone = existing && existing.definition.timezone ? existing.definition.timezone : undefined;
            const message = await api("/api/journeys/preview", { method: "POST", body: { profile_id: pid, template: template(), timezone, event: eventName.value ? { name: eventName.value } : {} } });
            clear(
              out,
              h(
                "dl",
                { class: "kv" },
                message.subject ? [h("dt", {}, t("jny.preview.subject")), h("dd", { id: "jny-preview-subject" }, message.subject)] : null,
                h("dt", {}, t("jny.preview.body")),
                h("dd", {}, h("pre", { id: "jny-preview-body", style: `${MONO};white-space:pre-wrap;margin:0` }, message.body)),
                message.html ? [h("dt", {}, t("jny.preview.html")), h("dd", {}, h("pre", { style: `${MONO};white-space:pre-wrap;margin:0` }, message.html))] : null,
              ),
            );
          } catch (error) {
            clear(out, errorBox(error));
          }
        },
      },
      field(t("jny.preview.profile"), profile),
      field(`${t("jny.preview.profile")} (id)`, manual),
      field(t("jny.preview.event"), eventName),
      h("button", { type: "submit", class: "secondary" }, t("jny.preview.button")),
    ),
    out,
  );
  return card;
}
