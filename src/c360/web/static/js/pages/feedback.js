// Feedback: the inbox (most urgent first, filters kept in the URL, paging), one item with its
// person, analysis, history and notes and the agent's actions (assign, start, note, resolve and
// thank the customer), and the report (volume, NPS and CSAT trends, times against the SLA).
import { api } from "../core/api.js";
import { barChart } from "../core/charts.js";
import { clear, errorBox, field, h, table } from "../core/dom.js";
import { ago, date, dateTime, number, t } from "../core/i18n.js";

export const needs = ["feedback.read"];

export const messages = {
  en: {
    "fb.title": "Feedback inbox",
    "fb.filters": "Filters",
    "fb.status": "Status",
    "fb.status.open": "Open",
    "fb.status.all": "All",
    "fb.status.new": "New",
    "fb.status.assigned": "Assigned",
    "fb.status.in_progress": "In progress",
    "fb.status.resolved": "Resolved",
    "fb.status.customer_notified": "Customer notified",
    "fb.topic": "Topic",
    "fb.topic.delivery": "Delivery",
    "fb.topic.product_quality": "Product quality",
    "fb.topic.billing": "Billing",
    "fb.topic.service": "Service",
    "fb.topic.website_app": "Website and app",
    "fb.topic.price": "Price",
    "fb.topic.other": "Other",
    "fb.sentiment": "Sentiment",
    "fb.sentiment.negative": "Negative",
    "fb.sentiment.neutral": "Neutral",
    "fb.sentiment.positive": "Positive",
    "fb.level": "Priority level",
    "fb.priority": "Priority",
    "fb.team": "Team",
    "fb.team.service": "Service",
    "fb.team.shipping": "Shipping",
    "fb.team.billing": "Billing",
    "fb.team.product": "Product",
    "fb.team.sales": "Sales",
    "fb.assignee": "Assignee",
    "fb.any": "Any",
    "fb.unassigned": "Unassigned",
    "fb.nobody": "nobody",
    "fb.apply": "Apply filters",
    "fb.reset": "Clear filters",
    "fb.channel": "Channel",
    "fb.received": "Received",
    "fb.sla": "SLA",
    "fb.sla.respond": "respond {when}",
    "fb.sla.resolve": "resolve {when}",
    "fb.sla.none": "no SLA",
    "fb.sla.done": "done",
    "fb.breached.respond": "response late",
    "fb.breached.resolve": "resolution late",
    "fb.item": "Item",
    "fb.item.title": "Feedback #{id}",
    "fb.shown": "{n} items shown",
    "fb.more": "Load more",
    "fb.empty": "No feedback matches these filters.",
    "fb.report": "Report",
    "fb.inbox": "Inbox",
    "fb.back": "Back to the inbox",
    "fb.text": "What they said",
    "fb.notext": "No text (a rating or an inferred signal).",
    "fb.rating": "Rating",
    "fb.rating.of": "{rating} of {scale}",
    "fb.person": "Person",
    "fb.person.open": "Open the profile",
    "fb.person.none": "Linked to no known person.",
    "fb.details": "Details",
    "fb.kind": "Kind",
    "fb.kind.direct": "Direct",
    "fb.kind.indirect": "Indirect",
    "fb.kind.inferred": "Inferred",
    "fb.language": "Language",
    "fb.respond_by": "Respond by",
    "fb.resolve_by": "Resolve by",
    "fb.responded_at": "Responded",
    "fb.resolved_at": "Resolved",
    "fb.notified_at": "Customer notified",
    "fb.resolution": "Resolution",
    "fb.analysis": "Analysis",
    "fb.score": "Sentiment score",
    "fb.cues": "Urgency cues",
    "fb.hits": "Words that decided it",
    "fb.factors": "Priority factors",
    "fb.factor": "Factor",
    "fb.value": "Value",
    "fb.factor.urgency": "Urgency",
    "fb.factor.sentiment": "Sentiment",
    "fb.factor.value": "Customer value",
    "fb.factor.open_orders": "Open orders",
    "fb.factor.spike": "Topic spike",
    "fb.history": "History and notes",
    "fb.when": "When",
    "fb.who": "Who",
    "fb.what": "What",
    "fb.change": "Status",
    "fb.detail": "Detail",
    "fb.action.received": "Received",
    "fb.action.assigned": "Assigned",
    "fb.action.started": "Started",
    "fb.action.reopened": "Reopened",
    "fb.action.resolved": "Resolved",
    "fb.action.notified": "Customer notified",
    "fb.action.noted": "Note",
    "fb.action.breached": "SLA breached",
    "fb.action.notify_queued": "Thank-you queued",
    "fb.action.notify_skipped": "Thank-you not sent",
    "fb.action.notify_failed": "Thank-you failed",
    "fb.actions": "Actions",
    "fb.assign": "Assign",
    "fb.assign.to": "Assign to (user name)",
    "fb.assign.team": "Team",
    "fb.assign.keep": "Keep the team",
    "fb.assigned": "Assigned to {name}.",
    "fb.start": "Start work",
    "fb.reopen": "Reopen",
    "fb.started": "Work has started.",
    "fb.note": "Note",
    "fb.note.add": "Add note",
    "fb.noted": "Note added.",
    "fb.resolve": "Resolve",
    "fb.resolve.text": "Resolution (the customer may read it)",
    "fb.resolve.notify": "Notify the customer",
    "fb.resolved": "Resolved.",
    "fb.notify.queued": "A thank-you is queued on {channel}.",
    "fb.notify.skipped": "The customer was not notified: {reason}",
    "fb.report.title": "Feedback report",
    "fb.since": "From",
    "fb.until": "To",
    "fb.period": "Period",
    "fb.period.day": "Day",
    "fb.period.week": "Week",
    "fb.show": "Show",
    "fb.range": "{since} – {until} ({zone})",
    "fb.total": "Items",
    "fb.volume.topic": "Volume by topic",
    "fb.volume.sentiment": "Volume by sentiment",
    "fb.volume.period": "Volume over time",
    "fb.volume.table": "Volume by topic and sentiment",
    "fb.count": "Items",
    "fb.nps": "NPS",
    "fb.nps.trend": "NPS trend",
    "fb.csat": "CSAT",
    "fb.csat.trend": "CSAT trend (% rating 4 or 5)",
    "fb.csat.average": "Mean rating",
    "fb.responses": "Responses",
    "fb.promoters": "Promoters",
    "fb.passives": "Passives",
    "fb.detractors": "Detractors",
    "fb.times": "Response and resolution against the SLA",
    "fb.times.chart": "Share within the SLA by level (%)",
    "fb.within.respond": "Responded within SLA",
    "fb.within.resolve": "Resolved within SLA",
    "fb.median.respond": "Median response (h)",
    "fb.median.resolve": "Median resolution (h)",
    "fb.with_sla": "With an SLA",
    "fb.open_breached": "Open and late",
    "fb.top": "This week's top issues",
    "fb.negative_pct": "Negative",
    "fb.average_priority": "Mean priority",
    "fb.open": "Open",
    "fb.spike": "Spike today",
    "fb.nothing": "Nothing in this period.",
  },
  th: {
    "fb.title": "กล่องความคิดเห็น",
    "fb.filters": "ตัวกรอง",
    "fb.status": "สถานะ",
    "fb.status.open": "ยังไม่ปิด",
    "fb.status.all": "ทั้งหมด",
    "fb.status.new": "ใหม่",
    "fb.status.assigned": "มอบหมายแล้ว",
    "fb.status.in_progress": "กำลังดำเนินการ",
    "fb.status.resolved": "แก้ไขแล้ว",
    "fb.status.customer_notified": "แจ้งลูกค้าแล้ว",
    "fb.topic": "หัวข้อ",
    "fb.topic.delivery": "การจัดส่ง",
    "fb.topic.product_quality": "คุณภาพสินค้า",
    "fb.topic.billing": "การเรียกเก็บเงิน",
    "fb.topic.service": "การบริการ",
    "fb.topic.website_app": "เว็บไซต์และแอป",
    "fb.topic.price": "ราคา",
    "fb.topic.other": "อื่น ๆ",
    "fb.sentiment": "ความรู้สึก",
    "fb.sentiment.negative": "เชิงลบ",
    "fb.sentiment.neutral": "เป็นกลาง",
    "fb.sentiment.positive": "เชิงบวก",
    "fb.level": "ระดับความสำคัญ",
    "fb.priority": "คะแนนความสำคัญ",
    "fb.team": "ทีม",
    "fb.team.service": "บริการลูกค้า",
    "fb.team.shipping": "จัดส่ง",
    "fb.team.billing": "การเงิน",
    "fb.team.product": "ผลิตภัณฑ์",
    "fb.team.sales": "ฝ่ายขาย",
    "fb.assignee": "ผู้รับผิดชอบ",
    "fb.any": "ทั้งหมด",
    "fb.unassigned": "ยังไม่มีผู้รับผิดชอบ",
    "fb.nobody": "ไม่มี",
    "fb.apply": "ใช้ตัวกรอง",
    "fb.reset": "ล้างตัวกรอง",
    "fb.channel": "ช่องทาง",
    "fb.received": "ได้รับเมื่อ",
    "fb.sla": "SLA",
    "fb.sla.respond": "ตอบกลับ {when}",
    "fb.sla.resolve": "แก้ไข {when}",
    "fb.sla.none": "ไม่มี SLA",
    "fb.sla.done": "เสร็จแล้ว",
    "fb.breached.respond": "ตอบกลับล่าช้า",
    "fb.breached.resolve": "แก้ไขล่าช้า",
    "fb.item": "รายการ",
    "fb.item.title": "ความคิดเห็น #{id}",
    "fb.shown": "แสดง {n} รายการ",
    "fb.more": "โหลดเพิ่ม",
    "fb.empty": "ไม่มีความคิดเห็นที่ตรงกับตัวกรองนี้",
    "fb.report": "รายงาน",
    "fb.inbox": "กล่องความคิดเห็น",
    "fb.back": "กลับไปที่กล่องความคิดเห็น",
    "fb.text": "สิ่งที่ลูกค้าบอก",
    "fb.notext": "ไม่มีข้อความ (เป็นคะแนนหรือสัญญาณที่อนุมานได้)",
    "fb.rating": "คะแนน",
    "fb.rating.of": "{rating} จาก {scale}",
    "fb.person": "ลูกค้า",
    "fb.person.open": "เปิดโปรไฟล์",
    "fb.person.none": "ไม่ได้เชื่อมกับลูกค้าที่รู้จัก",
    "fb.details": "รายละเอียด",
    "fb.kind": "ประเภท",
    "fb.kind.direct": "โดยตรง",
    "fb.kind.indirect": "โดยอ้อม",
    "fb.kind.inferred": "อนุมานจากพฤติกรรม",
    "fb.language": "ภาษา",
    "fb.respond_by": "ตอบกลับภายใน",
    "fb.resolve_by": "แก้ไขภายใน",
    "fb.responded_at": "ตอบกลับเมื่อ",
    "fb.resolved_at": "แก้ไขเมื่อ",
    "fb.notified_at": "แจ้งลูกค้าเมื่อ",
    "fb.resolution": "วิธีแก้ไข",
    "fb.analysis": "การวิเคราะห์",
    "fb.score": "คะแนนความรู้สึก",
    "fb.cues": "สัญญาณความเร่งด่วน",
    "fb.hits": "คำที่ใช้ตัดสิน",
    "fb.factors": "ปัจจัยความสำคัญ",
    "fb.factor": "ปัจจัย",
    "fb.value": "ค่า",
    "fb.factor.urgency": "ความเร่งด่วน",
    "fb.factor.sentiment": "ความรู้สึก",
    "fb.factor.value": "มูลค่าลูกค้า",
    "fb.factor.open_orders": "คำสั่งซื้อที่ยังค้าง",
    "fb.factor.spike": "หัวข้อที่พุ่งสูง",
    "fb.history": "ประวัติและบันทึก",
    "fb.when": "เมื่อ",
    "fb.who": "โดย",
    "fb.what": "การดำเนินการ",
    "fb.change": "สถานะ",
    "fb.detail": "รายละเอียด",
    "fb.action.received": "ได้รับ",
    "fb.action.assigned": "มอบหมาย",
    "fb.action.started": "เริ่มดำเนินการ",
    "fb.action.reopened": "เปิดใหม่",
    "fb.action.resolved": "แก้ไขแล้ว",
    "fb.action.notified": "แจ้งลูกค้าแล้ว",
    "fb.action.noted": "บันทึก",
    "fb.action.breached": "เกิน SLA",
    "fb.action.notify_queued": "จัดคิวข้อความขอบคุณแล้ว",
    "fb.action.notify_skipped": "ไม่ได้ส่งข้อความขอบคุณ",
    "fb.action.notify_failed": "ส่งข้อความขอบคุณไม่สำเร็จ",
    "fb.actions": "การดำเนินการ",
    "fb.assign": "มอบหมาย",
    "fb.assign.to": "มอบหมายให้ (ชื่อผู้ใช้)",
    "fb.assign.team": "ทีม",
    "fb.assign.keep": "คงทีมเดิม",
    "fb.assigned": "มอบหมายให้ {name} แล้ว",
    "fb.start": "เริ่มดำเนินการ",
    "fb.reopen": "เปิดใหม่",
    "fb.started": "เริ่มดำเนินการแล้ว",
    "fb.note": "บันทึก",
    "fb.note.add": "เพิ่มบันทึก",
    "fb.noted": "เพิ่มบันทึกแล้ว",
    "fb.resolve": "ปิดเรื่อง",
    "fb.resolve.text": "วิธีแก้ไข (ลูกค้าอาจได้อ่าน)",
    "fb.resolve.notify": "แจ้งลูกค้า",
    "fb.resolved": "ปิดเรื่องแล้ว",
    "fb.notify.queued": "จัดคิวข้อความขอบคุณทาง {channel} แล้ว",
    "fb.notify.skipped": "ไม่ได้แจ้งลูกค้า: {reason}",
    "fb.report.title": "รายงานความคิดเห็น",
    "fb.since": "ตั้งแต่",
    "fb.until": "ถึง",
    "fb.period": "ช่วงเวลา",
    "fb.period.day": "รายวัน",
    "fb.period.week": "รายสัปดาห์",
    "fb.show": "แสดง",
    "fb.range": "{since} – {until} ({zone})",
    "fb.total": "จำนวนรายการ",
    "fb.volume.topic": "จำนวนตามหัวข้อ",
    "fb.volume.sentiment": "จำนวนตามความรู้สึก",
    "fb.volume.period": "จำนวนตามช่วงเวลา",
    "fb.volume.table": "จำนวนตามหัวข้อและความรู้สึก",
    "fb.count": "จำนวน",
    "fb.nps": "NPS",
    "fb.nps.trend": "แนวโน้ม NPS",
    "fb.csat": "CSAT",
    "fb.csat.trend": "แนวโน้ม CSAT (% ที่ให้ 4 หรือ 5)",
    "fb.csat.average": "คะแนนเฉลี่ย",
    "fb.responses": "จำนวนคำตอบ",
    "fb.promoters": "ผู้สนับสนุน",
    "fb.passives": "ผู้เฉย ๆ",
    "fb.detractors": "ผู้ไม่พอใจ",
    "fb.times": "เวลาตอบกลับและแก้ไขเทียบกับ SLA",
    "fb.times.chart": "สัดส่วนที่อยู่ใน SLA ตามระดับ (%)",
    "fb.within.respond": "ตอบกลับทัน SLA",
    "fb.within.resolve": "แก้ไขทัน SLA",
    "fb.median.respond": "มัธยฐานเวลาตอบกลับ (ชม.)",
    "fb.median.resolve": "มัธยฐานเวลาแก้ไข (ชม.)",
    "fb.with_sla": "มี SLA",
    "fb.open_breached": "ยังไม่ปิดและล่าช้า",
    "fb.top": "ปัญหาหลักของสัปดาห์นี้",
    "fb.negative_pct": "เชิงลบ",
    "fb.average_priority": "ความสำคัญเฉลี่ย",
    "fb.open": "ยังไม่ปิด",
    "fb.spike": "พุ่งสูงวันนี้",
    "fb.nothing": "ไม่มีข้อมูลในช่วงนี้",
  },
  vi: {
    "fb.title": "Hộp thư phản hồi",
    "fb.filters": "Bộ lọc",
    "fb.status": "Trạng thái",
    "fb.status.open": "Đang mở",
    "fb.status.all": "Tất cả",
    "fb.status.new": "Mới",
    "fb.status.assigned": "Đã giao",
    "fb.status.in_progress": "Đang xử lý",
    "fb.status.resolved": "Đã giải quyết",
    "fb.status.customer_notified": "Đã báo khách hàng",
    "fb.topic": "Chủ đề",
    "fb.topic.delivery": "Giao hàng",
    "fb.topic.product_quality": "Chất lượng sản phẩm",
    "fb.topic.billing": "Thanh toán",
    "fb.topic.service": "Dịch vụ",
    "fb.topic.website_app": "Trang web và ứng dụng",
    "fb.topic.price": "Giá cả",
    "fb.topic.other": "Khác",
    "fb.sentiment": "Cảm xúc",
    "fb.sentiment.negative": "Tiêu cực",
    "fb.sentiment.neutral": "Trung lập",
    "fb.sentiment.positive": "Tích cực",
    "fb.level": "Mức ưu tiên",
    "fb.priority": "Điểm ưu tiên",
    "fb.team": "Nhóm",
    "fb.team.service": "Chăm sóc khách hàng",
    "fb.team.shipping": "Vận chuyển",
    "fb.team.billing": "Thanh toán",
    "fb.team.product": "Sản phẩm",
    "fb.team.sales": "Kinh doanh",
    "fb.assignee": "Người phụ trách",
    "fb.any": "Bất kỳ",
    "fb.unassigned": "Chưa giao",
    "fb.nobody": "không ai",
    "fb.apply": "Áp dụng bộ lọc",
    "fb.reset": "Xóa bộ lọc",
    "fb.channel": "Kênh",
    "fb.received": "Nhận lúc",
    "fb.sla": "SLA",
    "fb.sla.respond": "phản hồi {when}",
    "fb.sla.resolve": "giải quyết {when}",
    "fb.sla.none": "không có SLA",
    "fb.sla.done": "xong",
    "fb.breached.respond": "phản hồi trễ",
    "fb.breached.resolve": "giải quyết trễ",
    "fb.item": "Mục",
    "fb.item.title": "Phản hồi #{id}",
    "fb.shown": "Đang hiện {n} mục",
    "fb.more": "Tải thêm",
    "fb.empty": "Không có phản hồi nào khớp bộ lọc này.",
    "fb.report": "Báo cáo",
    "fb.inbox": "Hộp thư",
    "fb.back": "Quay lại hộp thư",
    "fb.text": "Khách hàng nói gì",
    "fb.notext": "Không có nội dung (một điểm đánh giá hoặc tín hiệu suy ra).",
    "fb.rating": "Điểm đánh giá",
    "fb.rating.of": "{rating} trên {scale}",
    "fb.person": "Khách hàng",
    "fb.person.open": "Mở hồ sơ",
    "fb.person.none": "Không gắn với khách hàng nào đã biết.",
    "fb.details": "Chi tiết",
    "fb.kind": "Loại",
    "fb.kind.direct": "Trực tiếp",
    "fb.kind.indirect": "Gián tiếp",
    "fb.kind.inferred": "Suy ra từ hành vi",
    "fb.language": "Ngôn ngữ",
    "fb.respond_by": "Phản hồi trước",
    "fb.resolve_by": "Giải quyết trước",
    "fb.responded_at": "Đã phản hồi",
    "fb.resolved_at": "Đã giải quyết",
    "fb.notified_at": "Đã báo khách hàng",
    "fb.resolution": "Cách giải quyết",
    "fb.analysis": "Phân tích",
    "fb.score": "Điểm cảm xúc",
    "fb.cues": "Dấu hiệu khẩn cấp",
    "fb.hits": "Từ ngữ quyết định",
    "fb.factors": "Các yếu tố ưu tiên",
    "fb.factor": "Yếu tố",
    "fb.value": "Giá trị",
    "fb.factor.urgency": "Mức khẩn cấp",
    "fb.factor.sentiment": "Cảm xúc",
    "fb.factor.value": "Giá trị khách hàng",
    "fb.factor.open_orders": "Đơn hàng đang mở",
    "fb.factor.spike": "Chủ đề tăng đột biến",
    "fb.history": "Lịch sử và ghi chú",
    "fb.when": "Thời điểm",
    "fb.who": "Người thực hiện",
    "fb.what": "Hành động",
    "fb.change": "Trạng thái",
    "fb.detail": "Chi tiết",
    "fb.action.received": "Đã nhận",
    "fb.action.assigned": "Đã giao",
    "fb.action.started": "Bắt đầu xử lý",
    "fb.action.reopened": "Mở lại",
    "fb.action.resolved": "Đã giải quyết",
    "fb.action.notified": "Đã báo khách hàng",
    "fb.action.noted": "Ghi chú",
    "fb.action.breached": "Vi phạm SLA",
    "fb.action.notify_queued": "Đã xếp lời cảm ơn vào hàng đợi",
    "fb.action.notify_skipped": "Không gửi lời cảm ơn",
    "fb.action.notify_failed": "Gửi lời cảm ơn thất bại",
    "fb.actions": "Thao tác",
    "fb.assign": "Giao việc",
    "fb.assign.to": "Giao cho (tên người dùng)",
    "fb.assign.team": "Nhóm",
    "fb.assign.keep": "Giữ nhóm hiện tại",
    "fb.assigned": "Đã giao cho {name}.",
    "fb.start": "Bắt đầu xử lý",
    "fb.reopen": "Mở lại",
    "fb.started": "Đã bắt đầu xử lý.",
    "fb.note": "Ghi chú",
    "fb.note.add": "Thêm ghi chú",
    "fb.noted": "Đã thêm ghi chú.",
    "fb.resolve": "Giải quyết",
    "fb.resolve.text": "Cách giải quyết (khách hàng có thể đọc)",
    "fb.resolve.notify": "Báo cho khách hàng",
    "fb.resolved": "Đã giải quyết.",
    "fb.notify.queued": "Đã xếp lời cảm ơn qua {channel}.",
    "fb.notify.skipped": "Chưa báo cho khách hàng: {reason}",
    "fb.report.title": "Báo cáo phản hồi",
    "fb.since": "Từ ngày",
    "fb.until": "Đến ngày",
    "fb.period": "Chu kỳ",
    "fb.period.day": "Ngày",
    "fb.period.week": "Tuần",
    "fb.show": "Xem",
    "fb.range": "{since} – {until} ({zone})",
    "fb.total": "Số mục",
    "fb.volume.topic": "Số lượng theo chủ đề",
    "fb.volume.sentiment": "Số lượng theo cảm xúc",
    "fb.volume.period": "Số lượng theo thời gian",
    "fb.volume.table": "Số lượng theo chủ đề và cảm xúc",
    "fb.count": "Số mục",
    "fb.nps": "NPS",
    "fb.nps.trend": "Xu hướng NPS",
    "fb.csat": "CSAT",
    "fb.csat.trend": "Xu hướng CSAT (% chấm 4 hoặc 5)",
    "fb.csat.average": "Điểm trung bình",
    "fb.responses": "Số câu trả lời",
    "fb.promoters": "Người ủng hộ",
    "fb.passives": "Trung lập",
    "fb.detractors": "Người phản đối",
    "fb.times": "Thời gian phản hồi và giải quyết so với SLA",
    "fb.times.chart": "Tỷ lệ đạt SLA theo mức (%)",
    "fb.within.respond": "Phản hồi đúng SLA",
    "fb.within.resolve": "Giải quyết đúng SLA",
    "fb.median.respond": "Trung vị thời gian phản hồi (giờ)",
    "fb.median.resolve": "Trung vị thời gian giải quyết (giờ)",
    "fb.with_sla": "Có SLA",
    "fb.open_breached": "Đang mở và trễ hạn",
    "fb.top": "Vấn đề nổi bật tuần này",
    "fb.negative_pct": "Tiêu cực",
    "fb.average_priority": "Ưu tiên trung bình",
    "fb.open": "Đang mở",
    "fb.spike": "Tăng đột biến hôm nay",
    "fb.nothing": "Không có gì trong khoảng thời gian này.",
  },
};

const STATUSES = ["new", "assigned", "in_progress", "resolved", "customer_notified"];
const LEVELS = ["P1", "P2", "P3", "P4"];
const SENTIMENTS = ["negative", "neutral", "positive"];
const FACTORS = ["urgency", "sentiment", "value", "open_orders", "spike"];
const FILTERS = ["status", "topic", "sentiment", "level", "team", "assignee"];
// Moves the API allows from each status (c360.feedback.model.NEXT).
const CAN_ASSIGN = ["new", "assigned", "in_progress"];
const CAN_START = ["new", "assigned", "resolved", "customer_notified"];
const CAN_RESOLVE = ["new", "assigned", "in_progress"];

// A translated label for a known value (topic, team...), the value itself for one configured
// elsewhere (a custom topic or team has no translation).
function named(prefix, value) {
  if (value === null || value === undefined || value === "") return "–";
  const key = `${prefix}.${value}`;
  return key in messages.en ? t(key) : String(value);
}

function levelBadge(level) {
  const tone = { P1: "bad", P2: "warn" }[level];
  return h("span", { class: ["badge", tone], "data-level": level }, level);
}

function sentimentBadge(sentiment) {
  const tone = { negative: "bad", positive: "good" }[sentiment];
  return h("span", { class: ["badge", tone] }, named("fb.sentiment", sentiment));
}

function statusBadge(status) {
  const tone = { resolved: "good", customer_notified: "good", new: "warn" }[status];
  return h("span", { class: ["badge", tone], "data-status": status }, named("fb.status", status));
}

function excerpt(item) {
  const text = item.text || item.subject || "";
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

// The SLA still running (respond, then resolve), and any breach.
function slaCell(item) {
  const late = (item.breached || []).map((b) => h("span", { class: "badge bad" }, named("fb.breached", b)));
  let due = null;
  if (item.resolved_at) due = h("span", { class: "muted" }, t("fb.sla.done"));
  else if (!item.respond_by) due = h("span", { class: "muted" }, t("fb.sla.none"));
  else if (!item.responded_at) due = h("span", { title: dateTime(item.respond_by) }, t("fb.sla.respond", { when: ago(item.respond_by) }));
  else due = h("span", { title: dateTime(item.resolve_by) }, t("fb.sla.resolve", { when: ago(item.resolve_by) }));
  return h("span", { class: "row" }, due, late);
}

export async function render(view, ctx) {
  const [rest] = ctx.params;
  if (rest === "report") return renderReport(view, ctx);
  if (rest && /^\d+$/.test(rest)) return renderItem(view, ctx, Number(rest));
  if (rest) {
    view.append(h("h1", {}, t("common.notfound")));
    return;
  }
  return renderInbox(view, ctx);
}

// --- the inbox ---------------------------------------------------------------------------

function select(name, label, options, chosen) {
  const control = h(
    "select",
    { name },
    options.map(([value, text]) => h("option", { value, selected: value === chosen }, text)),
  );
  return field(label, control);
}

function inboxQuery(query) {
  const status = query.get("status") || "open";
  const assignee = query.get("assignee") || "";
  return {
    status: status === "all" ? undefined : status,
    topic: query.get("topic") || undefined,
    sentiment: query.get("sentiment") || undefined,
    level: query.get("level") || undefined,
    team: query.get("team") || undefined,
    assignee: assignee && assignee !== "-" ? assignee : undefined,
    unassigned: assignee === "-" ? "true" : undefined,
  };
}

async function renderInbox(view, ctx) {
  const [offered, first] = await Promise.all([
    api("/api/feedback-inbox/filters"),
    api("/api/feedback-inbox", { query: inboxQuery(ctx.query) }),
  ]);
  const q = (name) => ctx.query.get(name) || "";
  const any = ["", t("fb.any")];
  const form = h(
    "form",
    {
      class: "inline",
      role: "search",
      "aria-label": t("fb.filters"),
      onsubmit: (event) => {
        event.preventDefault();
        const data = new FormData(event.target);
        ctx.navigate("/feedback", Object.fromEntries(FILTERS.map((f) => [f, data.get(f)])));
      },
    },
    select("status", t("fb.status"), [["open", t("fb.status.open")], ["all", t("fb.status.all")], ...STATUSES.map((s) => [s, named("fb.status", s)])], q("status") || "open"),
    select("topic", t("fb.topic"), [any, ...offered.topics.map((v) => [v, named("fb.topic", v)])], q("topic")),
    select("sentiment", t("fb.sentiment"), [any, ...SENTIMENTS.map((v) => [v, named("fb.sentiment", v)])], q("sentiment")),
    select("level", t("fb.level"), [any, ...LEVELS.map((v) => [v, v])], q("level")),
    select("team", t("fb.team"), [any, ...offered.teams.map((v) => [v, named("fb.team", v)])], q("team")),
    select("assignee", t("fb.assignee"), [any, ["-", t("fb.unassigned")], ...offered.assignees.map((v) => [v, v])], q("assignee")),
    h("button", { type: "submit" }, t("fb.apply")),
    h("button", { type: "button", class: "secondary", onclick: () => ctx.navigate("/feedback") }, t("fb.reset")),
  );

  const items = [...first.items];
  let next = first.next;
  const status = h("p", { class: "muted", "aria-live": "polite", id: "fb-shown" });
  const holder = h("div", { id: "fb-list" });
  const more = h("button", { type: "button", class: "secondary", id: "fb-more" }, t("fb.more"));
  more.addEventListener("click", async () => {
    if (!next) return;
    more.disabled = true;
    try {
      const page = await api("/api/feedback-inbox", { query: { ...inboxQuery(ctx.query), cursor: next } });
      if (!ctx.isCurrent()) return;
      items.push(...page.items);
      next = page.next;
      draw();
    } catch (error) {
      holder.append(errorBox(error));
    } finally {
      more.disabled = false;
    }
  });

  function draw() {
    clear(
      holder,
      table(
        [
          { label: t("fb.item"), value: (i) => h("a", { href: `#/feedback/${i.id}` }, `#${i.id} `, h("span", {}, excerpt(i) || named("fb.kind", i.kind))) },
          { label: t("fb.level"), value: (i) => levelBadge(i.level) },
          { label: t("fb.priority"), value: (i) => number(i.priority), num: true },
          { label: t("fb.topic"), value: (i) => named("fb.topic", i.topic) },
          { label: t("fb.sentiment"), value: (i) => sentimentBadge(i.sentiment) },
          { label: t("fb.channel"), value: (i) => i.channel },
          { label: t("fb.received"), value: (i) => h("span", { title: dateTime(i.received_at) }, ago(i.received_at)) },
          { label: t("fb.status"), value: (i) => statusBadge(i.status) },
          { label: t("fb.assignee"), value: (i) => i.assignee || h("span", { class: "muted" }, t("fb.nobody")) },
          { label: t("fb.sla"), value: slaCell },
        ],
        items,
        { caption: t("fb.title"), empty: t("fb.empty") },
      ),
    );
    holder.querySelectorAll("tbody tr").forEach((tr, n) => (tr.dataset.id = items[n].id));
    status.textContent = t("fb.shown", { n: items.length });
    holder.dataset.count = String(items.length);
    more.style.display = next ? "" : "none"; // app.css shows every button, [hidden] or not
  }
  draw();

  view.append(
    h("div", { class: "row", style: "justify-content:space-between" }, h("h1", {}, t("fb.title")), h("a", { class: "button secondary", href: "#/feedback/report" }, t("fb.report"))),
    h("section", { class: "card", "aria-label": t("fb.filters") }, form),
    h("section", { class: "stack", style: "margin-top:1rem" }, status, holder, more),
  );
}

// --- one item ----------------------------------------------------------------------------

let notice = null; // what the last action did, shown once when the item is drawn again

function personName(profile) {
  const values = (profile.golden && profile.golden.values) || {};
  const value = (k) => (values[k] ? values[k].value : profile.traits && profile.traits[k]);
  const full = value("full_name") || value("name") || [value("first_name"), value("last_name")].filter(Boolean).join(" ");
  return full || value("email") || null;
}

async function person(item, ctx) {
  if (!item.profile_id) return h("p", { class: "muted" }, t("fb.person.none"));
  let name = null;
  if (ctx.can("profiles.read")) {
    try {
      name = personName(await api(`/api/profiles/${encodeURIComponent(item.profile_id)}`));
    } catch {
      name = null; // the link below still leads to the profile (or says why not)
    }
  }
  return h(
    "p",
    {},
    name ? h("span", { class: "person-name" }, name, " · ") : null,
    h("a", { href: `#/profiles/${encodeURIComponent(item.profile_id)}`, "data-profile": item.profile_id }, t("fb.person.open")),
  );
}

function historyDetail(entry) {
  const d = entry.detail || {};
  if (entry.action === "noted") return d.text;
  if (entry.action === "assigned") return [d.assignee, d.team && named("fb.team", d.team)].filter(Boolean).join(" · ");
  if (entry.action === "resolved") return d.resolution;
  if (entry.action === "notify_queued") return d.channel;
  if (entry.action === "notify_skipped" || entry.action === "notify_failed") return d.reason || d.status;
  if (entry.action === "breached") return d.which ? named("fb.breached", d.which) : "";
  if (entry.action === "received") return [d.level, d.team && named("fb.team", d.team)].filter(Boolean).join(" · ");
  return "";
}

function actions(item, offered, ctx, redraw) {
  const id = item.id;
  const message = h("div", { "aria-live": "polite", id: "fb-action-result" });
  const act = async (button, path, body, done) => {
    button.disabled = true;
    clear(message);
    try {
      const answer = await api(`/api/feedback/${id}/${path}`, { method: "POST", body });
      notice = done(answer);
      await redraw();
    } catch (error) {
      button.disabled = false;
      clear(message, errorBox(error));
    }
  };

  const assignee = h("input", { name: "assignee", list: "fb-assignees", autocomplete: "off", value: item.assignee || "", required: true, maxlength: 200 });
  const names = [...new Set([ctx.me.name, ...offered.assignees])];
  const team = h("select", { name: "team" }, h("option", { value: "" }, t("fb.assign.keep")), offered.teams.map((v) => h("option", { value: v }, named("fb.team", v))));
  const assignButton = h("button", { type: "submit", disabled: !CAN_ASSIGN.includes(item.status) }, t("fb.assign"));
  const assignForm = h(
    "form",
    {
      class: "inline",
      "aria-label": t("fb.assign"),
      onsubmit: (e) => {
        e.preventDefault();
        const name = assignee.value.trim();
        act(assignButton, "assign", { assignee: name, team: team.value || null }, () => t("fb.assigned", { name }));
      },
    },
    field(t("fb.assign.to"), assignee),
    h("datalist", { id: "fb-assignees" }, names.map((n) => h("option", { value: n }))),
    field(t("fb.assign.team"), team),
    assignButton,
  );

  const reopening = ["resolved", "customer_notified"].includes(item.status);
  const startButton = h("button", { type: "button", class: "secondary", disabled: !CAN_START.includes(item.status) }, reopening ? t("fb.reopen") : t("fb.start"));
  startButton.addEventListener("click", () => act(startButton, "start", undefined, () => t("fb.started")));

  const note = h("textarea", { name: "note", required: true, maxlength: 5000, rows: 3 });
  const noteButton = h("button", { type: "submit" }, t("fb.note.add"));
  const noteForm = h(
    "form",
    {
      class: "stack",
      "aria-label": t("fb.note"),
      onsubmit: (e) => {
        e.preventDefault();
        act(noteButton, "notes", { text: note.value }, () => t("fb.noted"));
      },
    },
    field(t("fb.note"), note),
    noteButton,
  );

  const resolution = h("textarea", { name: "resolution", required: true, maxlength: 2000, rows: 3 });
  const notify = h("input", { type: "checkbox", name: "notify", id: "fb-notify" });
  const resolveButton = h("button", { type: "submit", disabled: !CAN_RESOLVE.includes(item.status) }, t("fb.resolve"));
  const resolveForm = h(
    "form",
    {
      class: "stack",
      "aria-label": t("fb.resolve"),
      onsubmit: (e) => {
        e.preventDefault();
        act(resolveButton, "resolve", { resolution: resolution.value, notify: notify.checked }, (answer) => {
          const sent = answer.notify;
          if (!sent) return t("fb.resolved");
          return `${t("fb.resolved")} ${sent.queued ? t("fb.notify.queued", { channel: sent.channel }) : t("fb.notify.skipped", { reason: sent.reason })}`;
        });
      },
    },
    field(t("fb.resolve.text"), resolution),
    h("div", { class: "row" }, notify, h("label", { for: "fb-notify", style: "margin:0" }, t("fb.resolve.notify"))),
    resolveButton,
  );

  return h(
    "section",
    { class: "card stack", id: "fb-actions", "aria-labelledby": "fb-actions-h" },
    h("h2", { id: "fb-actions-h" }, t("fb.actions")),
    message,
    assignForm,
    h("div", { class: "row" }, startButton),
    noteForm,
    resolveForm,
  );
}

// After an action the item is drawn again in place (the route stays the same).
async function renderItem(view, ctx, id) {
  const redraw = async () => {
    const fresh = h("div");
    await drawItem(fresh, ctx, id, redraw);
    if (ctx.isCurrent()) clear(view, ...fresh.childNodes);
  };
  await drawItem(view, ctx, id, redraw);
}

async function drawItem(view, ctx, id, redraw) {
  const [item, offered] = await Promise.all([
    api(`/api/feedback/${id}`),
    ctx.can("feedback.work") ? api("/api/feedback-inbox/filters") : null,
  ]);
  const who = await person(item, ctx);
  const shown = notice;
  notice = null;
  const rating = item.rating === null || item.rating === undefined ? null : t("fb.rating.of", { rating: item.rating, scale: item.rating_scale || 5 });
  const kv = (pairs) =>
    h(
      "dl",
      { class: "kv" },
      pairs.filter(([, v]) => v !== null && v !== undefined && v !== "").map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
    );
  const analysis = item.analysis || {};
  view.append(
    h("p", {}, h("a", { href: "#/feedback" }, t("fb.back"))),
    h("h1", {}, t("fb.item.title", { id: String(item.id) })),
    shown ? h("div", { class: "notice", role: "status" }, shown) : null,
    h("div", { class: "row", id: "fb-badges" }, levelBadge(item.level), statusBadge(item.status), sentimentBadge(item.sentiment), h("span", { class: "badge" }, named("fb.topic", item.topic))),
    h(
      "div",
      { class: "grid wide", style: "margin-top:1rem" },
      h(
        "section",
        { class: "card stack", "aria-labelledby": "fb-text-h" },
        h("h2", { id: "fb-text-h" }, t("fb.text")),
        item.subject ? h("h3", {}, item.subject) : null,
        item.text ? h("blockquote", { id: "fb-text", style: "margin:0;white-space:pre-wrap" }, item.text) : h("p", { class: "muted" }, t("fb.notext")),
        rating ? h("p", {}, `${t("fb.rating")}: ${rating}`) : null,
        h("h3", {}, t("fb.person")),
        who,
      ),
      h(
        "section",
        { class: "card", "aria-labelledby": "fb-details-h" },
        h("h2", { id: "fb-details-h" }, t("fb.details")),
        kv([
          [t("fb.priority"), `${item.level} · ${number(item.priority)}`],
          [t("fb.status"), named("fb.status", item.status)],
          [t("fb.team"), named("fb.team", item.team)],
          [t("fb.assignee"), item.assignee || t("fb.nobody")],
          [t("fb.channel"), item.channel],
          [t("fb.kind"), named("fb.kind", item.kind)],
          [t("fb.language"), item.language],
          [t("fb.received"), dateTime(item.received_at)],
          [t("fb.sla"), slaCell(item)],
          [t("fb.respond_by"), item.respond_by && dateTime(item.respond_by)],
          [t("fb.resolve_by"), item.resolve_by && dateTime(item.resolve_by)],
          [t("fb.responded_at"), item.responded_at && dateTime(item.responded_at)],
          [t("fb.resolved_at"), item.resolved_at && dateTime(item.resolved_at)],
          [t("fb.notified_at"), item.notified_at && dateTime(item.notified_at)],
          [t("fb.resolution"), item.resolution],
        ]),
      ),
      h(
        "section",
        { class: "card stack", "aria-labelledby": "fb-analysis-h" },
        h("h2", { id: "fb-analysis-h" }, t("fb.analysis")),
        kv([
          [t("fb.sentiment"), named("fb.sentiment", item.sentiment)],
          [t("fb.score"), number(item.sentiment_score, { maximumFractionDigits: 3 })],
          [t("fb.topic"), named("fb.topic", item.topic)],
          [t("fb.cues"), (item.cues || []).join(", ")],
          [t("fb.hits"), (analysis.hits || []).join(", ")],
        ]),
        h("h3", {}, t("fb.factors")),
        table(
          [
            { label: t("fb.factor"), value: (f) => t(`fb.factor.${f}`) },
            { label: t("fb.value"), value: (f) => number((item.factors || {})[f], { maximumFractionDigits: 2 }), num: true },
          ],
          FACTORS.filter((f) => item.factors && f in item.factors),
          { caption: t("fb.factors") },
        ),
      ),
    ),
    ctx.can("feedback.work") ? actions(item, offered, ctx, redraw) : null,
    h(
      "section",
      { class: "card", id: "fb-history", style: "margin-top:1rem", "aria-labelledby": "fb-history-h" },
      h("h2", { id: "fb-history-h" }, t("fb.history")),
      table(
        [
          { label: t("fb.when"), value: (e) => dateTime(e.at) },
          { label: t("fb.who"), value: (e) => e.actor },
          { label: t("fb.what"), value: (e) => h("span", { "data-action": e.action }, named("fb.action", e.action)) },
          { label: t("fb.change"), value: (e) => (e.from && e.from !== e.to ? `${named("fb.status", e.from)} → ${named("fb.status", e.to)}` : named("fb.status", e.to)) },
          { label: t("fb.detail"), value: historyDetail },
        ],
        item.history,
        { caption: t("fb.history"), empty: t("common.none") },
      ),
    ),
  );
}

// --- the report --------------------------------------------------------------------------

const DAY_MS = 86_400_000;
const isoDay = (d) => d.toISOString().slice(0, 10);

function sumBy(rows, key) {
  const out = new Map();
  for (const r of rows) out.set(r[key], (out.get(r[key]) || 0) + r.count);
  return out;
}

async function renderReport(view, ctx) {
  const today = new Date();
  const since = ctx.query.get("since") || isoDay(new Date(today.getTime() - 30 * DAY_MS));
  const until = ctx.query.get("until") || isoDay(today);
  const period = ctx.query.get("period") === "week" ? "week" : "day";
  // ``until`` is a whole day: the report runs to the start of the next one.
  const untilNext = isoDay(new Date(Date.parse(`${until}T00:00:00Z`) + DAY_MS));
  const report = await api("/api/feedback/report", {
    query: { since: `${since}T00:00:00Z`, until: ctx.query.get("until") ? `${untilNext}T00:00:00Z` : undefined, period },
  });

  const sinceInput = h("input", { type: "date", name: "since", value: since, required: true });
  const untilInput = h("input", { type: "date", name: "until", value: until, required: true });
  const form = h(
    "form",
    {
      class: "inline",
      "aria-label": t("fb.report.title"),
      onsubmit: (e) => {
        e.preventDefault();
        const data = new FormData(e.target);
        ctx.navigate("/feedback/report", { since: data.get("since"), until: data.get("until"), period: data.get("period") });
      },
    },
    field(t("fb.since"), sinceInput),
    field(t("fb.until"), untilInput),
    select("period", t("fb.period"), [["day", t("fb.period.day")], ["week", t("fb.period.week")]], period),
    h("button", { type: "submit" }, t("fb.show")),
  );

  const byTopic = sumBy(report.volume, "topic");
  const bySentiment = sumBy(report.volume, "sentiment");
  const byPeriod = sumBy(report.volume, "period");
  const topics = [...byTopic.keys()].sort((a, b) => byTopic.get(b) - byTopic.get(a) || a.localeCompare(b));
  const periodLabel = (p) => (period === "day" ? date(`${p}T12:00:00`, { day: "numeric", month: "short" }) : p);
  const pct = (v) => (v === null || v === undefined ? "–" : `${number(v, { maximumFractionDigits: 1 })}%`);
  const hours = (v) => (v === null || v === undefined ? "–" : number(v, { maximumFractionDigits: 2 }));
  const stat = (key, label, value) => h("section", { class: "card", "data-total": key }, h("h2", {}, label), h("div", { class: "stat" }, number(value)));
  const chartCard = (id, title, chart) => h("section", { class: "card", id }, h("h2", {}, title), chart);
  const empty = !report.volume.length;

  view.append(
    h("div", { class: "row", style: "justify-content:space-between" }, h("h1", {}, t("fb.report.title")), h("a", { class: "button secondary", href: "#/feedback" }, t("fb.inbox"))),
    h("section", { class: "card" }, form, h("p", { class: "muted", id: "fb-range" }, t("fb.range", { since: dateTime(report.since), until: dateTime(report.until), zone: report.timezone }))),
    h(
      "div",
      { class: "grid", style: "margin-top:1rem", id: "fb-totals" },
      stat("items", t("fb.total"), report.totals.items),
      SENTIMENTS.map((s) => stat(s, named("fb.sentiment", s), report.totals.by_sentiment[s] || 0)),
    ),
    empty
      ? h("p", { class: "muted", style: "margin-top:1rem" }, t("fb.nothing"))
      : h(
          "div",
          { class: "grid wide", style: "margin-top:1rem" },
          chartCard(
            "fb-volume-topic",
            t("fb.volume.topic"),
            barChart({ title: t("fb.volume.topic"), labels: topics.map((v) => named("fb.topic", v)), series: [{ name: t("fb.count"), values: topics.map((v) => byTopic.get(v)) }] }),
          ),
          chartCard(
            "fb-volume-sentiment",
            t("fb.volume.sentiment"),
            barChart({ title: t("fb.volume.sentiment"), labels: SENTIMENTS.map((s) => named("fb.sentiment", s)), series: [{ name: t("fb.count"), values: SENTIMENTS.map((s) => bySentiment.get(s) || 0) }] }),
          ),
          chartCard(
            "fb-volume-period",
            t("fb.volume.period"),
            barChart({ title: t("fb.volume.period"), labels: [...byPeriod.keys()].map(periodLabel), series: [{ name: t("fb.count"), values: [...byPeriod.values()] }] }),
          ),
        ),
    empty
      ? null
      : h(
          "section",
          { class: "card", id: "fb-volume", style: "margin-top:1rem" },
          h("h2", {}, t("fb.volume.table")),
          table(
            [
              { label: t("fb.topic"), value: (v) => named("fb.topic", v) },
              ...SENTIMENTS.map((s) => ({
                label: named("fb.sentiment", s),
                value: (v) => number(report.volume.filter((r) => r.topic === v && r.sentiment === s).reduce((n, r) => n + r.count, 0)),
                num: true,
              })),
              { label: t("fb.count"), value: (v) => h("span", { "data-topic": v }, number(byTopic.get(v))), num: true },
            ],
            topics,
            { caption: t("fb.volume.table") },
          ),
        ),
    h(
      "div",
      { class: "grid wide", style: "margin-top:1rem" },
      h(
        "section",
        { class: "card", id: "fb-nps" },
        h("h2", {}, t("fb.nps.trend")),
        report.nps.length
          ? [
              barChart({ title: t("fb.nps.trend"), labels: report.nps.map((r) => periodLabel(r.period)), series: [{ name: t("fb.nps"), values: report.nps.map((r) => r.nps) }] }),
              table(
                [
                  { label: t("fb.period"), value: (r) => periodLabel(r.period) },
                  { label: t("fb.nps"), value: (r) => h("span", { "data-nps": r.period }, number(r.nps, { maximumFractionDigits: 1 })), num: true },
                  { label: t("fb.responses"), value: (r) => number(r.responses), num: true },
                  { label: t("fb.promoters"), value: (r) => number(r.promoters), num: true },
                  { label: t("fb.passives"), value: (r) => number(r.passives), num: true },
                  { label: t("fb.detractors"), value: (r) => number(r.detractors), num: true },
                ],
                report.nps,
                { caption: t("fb.nps.trend") },
              ),
            ]
          : h("p", { class: "muted" }, t("fb.nothing")),
      ),
      h(
        "section",
        { class: "card", id: "fb-csat" },
        h("h2", {}, t("fb.csat.trend")),
        report.csat.length
          ? [
              barChart({ title: t("fb.csat.trend"), labels: report.csat.map((r) => periodLabel(r.period)), series: [{ name: t("fb.csat"), values: report.csat.map((r) => r.csat) }] }),
              table(
                [
                  { label: t("fb.period"), value: (r) => periodLabel(r.period) },
                  { label: t("fb.csat"), value: (r) => h("span", { "data-csat": r.period }, pct(r.csat)), num: true },
                  { label: t("fb.csat.average"), value: (r) => number(r.average, { maximumFractionDigits: 2 }), num: true },
                  { label: t("fb.responses"), value: (r) => number(r.responses), num: true },
                ],
                report.csat,
                { caption: t("fb.csat.trend") },
              ),
            ]
          : h("p", { class: "muted" }, t("fb.nothing")),
      ),
    ),
    h(
      "section",
      { class: "card", id: "fb-sla", style: "margin-top:1rem" },
      h("h2", {}, t("fb.times")),
      h(
        "div",
        { style: "max-width:36rem" },
        barChart({
          title: t("fb.times.chart"),
        labels: report.sla.map((r) => r.level),
        series: [
          { name: t("fb.within.respond"), values: report.sla.map((r) => r.responded_within_sla_pct || 0) },
          { name: t("fb.within.resolve"), values: report.sla.map((r) => r.resolved_within_sla_pct || 0) },
          ],
        }),
      ),
      table(
        [
          { label: t("fb.level"), value: (r) => levelBadge(r.level) },
          { label: t("fb.total"), value: (r) => h("span", { "data-sla-items": r.level }, number(r.items)), num: true },
          { label: t("fb.with_sla"), value: (r) => number(r.with_sla), num: true },
          { label: t("fb.median.respond"), value: (r) => hours(r.median_response_h), num: true },
          { label: t("fb.median.resolve"), value: (r) => hours(r.median_resolution_h), num: true },
          { label: t("fb.within.respond"), value: (r) => pct(r.responded_within_sla_pct), num: true },
          { label: t("fb.within.resolve"), value: (r) => pct(r.resolved_within_sla_pct), num: true },
          { label: t("fb.open_breached"), value: (r) => h("span", { class: r.open_breached ? "bad" : null }, number(r.open_breached)), num: true },
        ],
        report.sla,
        { caption: t("fb.times") },
      ),
    ),
    h(
      "section",
      { class: "card", id: "fb-top", style: "margin-top:1rem" },
      h("h2", {}, t("fb.top")),
      table(
        [
          { label: t("fb.topic"), value: (r) => h("a", { href: `#/feedback?status=all&topic=${encodeURIComponent(r.topic)}` }, named("fb.topic", r.topic)) },
          { label: t("fb.count"), value: (r) => number(r.items), num: true },
          { label: t("fb.negative_pct"), value: (r) => pct(r.negative_pct), num: true },
          { label: t("fb.average_priority"), value: (r) => number(r.average_priority, { maximumFractionDigits: 1 }), num: true },
          { label: t("fb.open"), value: (r) => number(r.open), num: true },
          { label: t("fb.spike"), value: (r) => (r.spike_today ? h("span", { class: "badge bad" }, t("common.yes")) : t("common.no")), num: true },
        ],
        report.top_issues,
        { caption: t("fb.top"), empty: t("fb.nothing") },
      ),
    ),
  );
}
