// One profile, the Customer 360: the golden record with where each value came from, every
// identifier and alternative value, household, computed traits, segments, consents, the
// timeline across all sources, feedback and tickets, messages sent, recommendations and the
// suggested next action; and why its records are one person, with a split for those who may.
import { api } from "../core/api.js";
import { clear, errorBox, field, h, table, toast } from "../core/dom.js";
import { purposeCell } from "../core/common.js";
import { date, dateTime, money, number, percent, t, term } from "../core/i18n.js";

export const needs = ["profiles.read"];

const KINDS = ["event", "contact", "order", "order_item", "invoice", "payment", "shipment", "ticket", "survey_response", "feedback", "registration", "subscription", "web_event"];

const FIELDS = ["first_name", "middle_name", "last_name", "full_name", "nickname", "email", "phone", "line_user_id", "zalo_user_id", "gender", "birth_date", "language", "address", "subdistrict", "district", "province", "postal_code", "country", "national_id", "company", "job_title"];

const TRAITS = ["value_tier", "lifetime_value", "order_count", "average_order_value", "first_purchase_at_us", "last_purchase_at_us", "average_purchase_gap_days", "favourite_categories", "favourite_branch", "purchase_channels", "rfm", "preferred_channel", "best_contact_hours", "best_contact_weekdays", "last_contact_at_us", "open_tickets", "last_ticket_at_us", "last_nps", "sentiment", "churn_risk", "days_since_last_contact", "days_since_last_purchase"];

// the kind of personal data a field holds, as the API's masking names it
const KIND_OF = {
  first_name: "name",
  middle_name: "name",
  last_name: "name",
  full_name: "name",
  nickname: "name",
  name: "name",
  email: "email",
  phone: "phone",
  mobile: "phone",
  line_user_id: "phone",
  zalo_user_id: "phone",
  address: "address",
  subdistrict: "address",
  district: "address",
  postal_code: "address",
  contact_address: "address",
  delivery_address: "address",
  birth_date: "birth_date",
  national_id: "national_id",
  tax_id: "national_id",
  passport: "national_id",
};

const en = {
  "prof.title": "Customer profile",
  "prof.merged": "This id was merged into the profile shown here.",
  "prof.noname": "(no name)",
  "prof.back": "Back to search",
  "prof.next": "Suggested next action",
  "prof.why": "Why: {why}",
  "prof.golden": "Golden record",
  "prof.golden.none": "No values yet.",
  "prof.col.field": "Field",
  "prof.col.value": "Value",
  "prof.col.source": "Source",
  "prof.col.record": "Record",
  "prof.col.rule": "Chosen because",
  "prof.col.date": "As of",
  "prof.col.others": "Other values",
  "prof.alt": "{value} ({sources}, {n} records)",
  "prof.addresses": "Addresses",
  "prof.identifiers": "Identifiers",
  "prof.col.type": "Type",
  "prof.household": "Household",
  "prof.household.none": "Not in a household.",
  "prof.household.id": "Household {id}",
  "prof.linked": "Records held",
  "prof.traits": "Computed traits",
  "prof.segments": "Segments",
  "prof.segments.none": "In no segment now.",
  "prof.consents": "Consents",
  "prof.col.purpose": "Purpose",
  "prof.col.granted": "Granted",
  "prof.col.stated": "Stated by the person",
  "prof.col.channels": "Channels",
  "prof.subscriptions": "Subscriptions",
  "prof.ledger": "Consent history",
  "prof.col.channel": "Channel",
  "prof.col.state": "State",
  "prof.col.method": "How",
  "prof.col.when": "When",
  "prof.timeline": "Timeline",
  "prof.tl.kinds": "Show only",
  "prof.tl.since": "From",
  "prof.tl.until": "Until",
  "prof.tl.apply": "Apply filter",
  "prof.tl.reset": "Show everything",
  "prof.tl.count": "{n} items shown",
  "prof.tl.more": "Load older items",
  "prof.tl.end": "That is everything.",
  "prof.tl.none": "Nothing in this period.",
  "prof.col.kind": "What",
  "prof.col.detail": "Details",
  "prof.tl.lines": "{n} lines",
  "prof.details": "All fields",
  "prof.feedback": "Feedback and tickets",
  "prof.tickets": "Tickets",
  "prof.col.ticket": "Ticket",
  "prof.col.topic": "Topic",
  "prof.col.status": "Status",
  "prof.col.priority": "Priority",
  "prof.col.agent": "Agent",
  "prof.col.note": "Last note",
  "prof.requests": "Feedback",
  "prof.col.text": "What they said",
  "prof.col.sentiment": "Sentiment",
  "prof.col.level": "Level",
  "prof.tickets.none": "No tickets.",
  "prof.requests.none": "No feedback.",
  "prof.messages": "Messages sent",
  "prof.messages.none": "No messages sent yet.",
  "prof.col.journey": "Journey",
  "prof.col.address": "To",
  "prof.col.subject": "Subject",
  "prof.col.opened": "Opened",
  "prof.col.clicked": "Clicked",
  "prof.recs": "Recommended products",
  "prof.recs.none": "No recommendations.",
  "prof.col.product": "Product",
  "prof.col.category": "Category",
  "prof.col.price": "Price",
  "prof.col.reason": "Why",
  "prof.identity": "Why these records are one person",
  "prof.id.records": "Records ({n})",
  "prof.id.mergedfrom": "Profiles merged into this one",
  "prof.id.edges": "What links them",
  "prof.id.references": "Orders, invoices and other references ({n})",
  "prof.id.edges.count": "{n} links",
  "prof.col.a": "Record",
  "prof.col.b": "Linked to",
  "prof.col.link": "Link",
  "prof.col.because": "Because",
  "prof.col.probability": "Probability",
  "prof.id.comparisons": "Comparisons",
  "prof.id.comparison": "{field}: {level} ({weight})",
  "prof.id.history": "Merges and splits",
  "prof.col.action": "Action",
  "prof.col.other": "Other profile",
  "prof.id.questions": "Open questions",
  "prof.id.questions.count": "{n} record pairs around this profile wait for review.",
  "prof.link.deterministic": "shared identifier or rule",
  "prof.link.probabilistic": "scored match",
  "prof.link.attach": "attached",
  "prof.link.reviewed": "decided by a person",
  "prof.split": "Split records out",
  "prof.split.intro": "Tick the records that belong to someone else and say why. They move to a separate profile, and the matcher never joins them again.",
  "prof.split.select": "Move {record}",
  "prof.split.reason": "Reason",
  "prof.split.start": "Split the ticked records",
  "prof.split.pick": "Tick at least one record, and not all of them.",
  "prof.split.why": "Say why the records are not this person.",
  "prof.split.confirm": "Move {n} records out of this profile for good?",
  "prof.split.yes": "Yes, split",
  "prof.split.done": "Split done. The records are now in these profiles:",
  "prof.split.this": "(this profile)",
  "prof.section.error": "This part could not be loaded: {message}",
  "prof.days": "{n} days",
  "prof.kind.event": "Tracked event",
  "prof.kind.contact": "Contact",
  "prof.kind.order": "Order",
  "prof.kind.order_item": "Order line",
  "prof.kind.invoice": "Invoice",
  "prof.kind.payment": "Payment",
  "prof.kind.shipment": "Shipment",
  "prof.kind.ticket": "Ticket",
  "prof.kind.survey_response": "Survey answer",
  "prof.kind.feedback": "Feedback",
  "prof.kind.registration": "Registration",
  "prof.kind.subscription": "Subscription",
  "prof.kind.web_event": "Web event",
  "prof.f.first_name": "First name",
  "prof.f.middle_name": "Middle name",
  "prof.f.last_name": "Last name",
  "prof.f.full_name": "Full name",
  "prof.f.nickname": "Nickname",
  "prof.f.email": "Email",
  "prof.f.phone": "Phone",
  "prof.f.line_user_id": "LINE id",
  "prof.f.zalo_user_id": "Zalo id",
  "prof.f.gender": "Gender",
  "prof.f.birth_date": "Birth date",
  "prof.f.language": "Language",
  "prof.f.address": "Address",
  "prof.f.subdistrict": "Subdistrict",
  "prof.f.district": "District",
  "prof.f.province": "Province",
  "prof.f.postal_code": "Postal code",
  "prof.f.country": "Country",
  "prof.f.national_id": "National id",
  "prof.f.company": "Company",
  "prof.f.job_title": "Job title",
  "prof.tr.value_tier": "Value tier",
  "prof.tr.lifetime_value": "Lifetime value",
  "prof.tr.order_count": "Orders",
  "prof.tr.average_order_value": "Average order",
  "prof.tr.first_purchase_at_us": "First purchase",
  "prof.tr.last_purchase_at_us": "Last purchase",
  "prof.tr.average_purchase_gap_days": "Days between purchases",
  "prof.tr.favourite_categories": "Favourite categories",
  "prof.tr.favourite_branch": "Favourite branch",
  "prof.tr.purchase_channels": "Buys through",
  "prof.tr.rfm": "RFM",
  "prof.tr.preferred_channel": "Preferred channel",
  "prof.tr.best_contact_hours": "Best hours to contact",
  "prof.tr.best_contact_weekdays": "Best days to contact",
  "prof.tr.last_contact_at_us": "Last contact",
  "prof.tr.open_tickets": "Open tickets",
  "prof.tr.last_ticket_at_us": "Last ticket",
  "prof.tr.last_nps": "Last NPS",
  "prof.tr.sentiment": "Sentiment",
  "prof.tr.churn_risk": "Churn risk",
  "prof.tr.days_since_last_contact": "Days since last contact",
  "prof.tr.days_since_last_purchase": "Days since last purchase",
  "prof.other": "Other traits",
};

const th = {
  "prof.title": "โปรไฟล์ลูกค้า",
  "prof.merged": "รหัสนี้ถูกรวมเข้ากับโปรไฟล์ที่แสดงอยู่นี้แล้ว",
  "prof.noname": "(ไม่มีชื่อ)",
  "prof.back": "กลับไปค้นหา",
  "prof.next": "สิ่งที่ควรทำต่อไป",
  "prof.why": "เหตุผล: {why}",
  "prof.golden": "ข้อมูลหลัก (Golden record)",
  "prof.golden.none": "ยังไม่มีข้อมูล",
  "prof.col.field": "ข้อมูล",
  "prof.col.value": "ค่า",
  "prof.col.source": "แหล่งข้อมูล",
  "prof.col.record": "ระเบียน",
  "prof.col.rule": "เลือกเพราะ",
  "prof.col.date": "ณ วันที่",
  "prof.col.others": "ค่าอื่น",
  "prof.alt": "{value} ({sources}, {n} ระเบียน)",
  "prof.addresses": "ที่อยู่",
  "prof.identifiers": "ตัวระบุ",
  "prof.col.type": "ประเภท",
  "prof.household": "ครัวเรือน",
  "prof.household.none": "ไม่อยู่ในครัวเรือนใด",
  "prof.household.id": "ครัวเรือน {id}",
  "prof.linked": "ระเบียนที่มี",
  "prof.traits": "คุณลักษณะที่คำนวณ",
  "prof.segments": "กลุ่มลูกค้า",
  "prof.segments.none": "ขณะนี้ไม่อยู่ในกลุ่มใด",
  "prof.consents": "ความยินยอม",
  "prof.col.purpose": "วัตถุประสงค์",
  "prof.col.granted": "ให้ความยินยอม",
  "prof.col.stated": "เจ้าตัวแจ้งเอง",
  "prof.col.channels": "ช่องทาง",
  "prof.subscriptions": "การสมัครรับข่าวสาร",
  "prof.ledger": "ประวัติความยินยอม",
  "prof.col.channel": "ช่องทาง",
  "prof.col.state": "สถานะ",
  "prof.col.method": "วิธี",
  "prof.col.when": "เมื่อ",
  "prof.timeline": "ไทม์ไลน์",
  "prof.tl.kinds": "แสดงเฉพาะ",
  "prof.tl.since": "ตั้งแต่",
  "prof.tl.until": "ถึง",
  "prof.tl.apply": "กรอง",
  "prof.tl.reset": "แสดงทั้งหมด",
  "prof.tl.count": "แสดง {n} รายการ",
  "prof.tl.more": "โหลดรายการที่เก่ากว่า",
  "prof.tl.end": "แสดงครบทั้งหมดแล้ว",
  "prof.tl.none": "ไม่มีรายการในช่วงนี้",
  "prof.col.kind": "รายการ",
  "prof.col.detail": "รายละเอียด",
  "prof.tl.lines": "{n} รายการสินค้า",
  "prof.details": "ข้อมูลทั้งหมด",
  "prof.feedback": "ความคิดเห็นและทิกเก็ต",
  "prof.tickets": "ทิกเก็ต",
  "prof.col.ticket": "ทิกเก็ต",
  "prof.col.topic": "หัวข้อ",
  "prof.col.status": "สถานะ",
  "prof.col.priority": "ความสำคัญ",
  "prof.col.agent": "เจ้าหน้าที่",
  "prof.col.note": "บันทึกล่าสุด",
  "prof.requests": "ความคิดเห็น",
  "prof.col.text": "สิ่งที่ลูกค้าบอก",
  "prof.col.sentiment": "ความรู้สึก",
  "prof.col.level": "ระดับ",
  "prof.tickets.none": "ไม่มีทิกเก็ต",
  "prof.requests.none": "ไม่มีความคิดเห็น",
  "prof.messages": "ข้อความที่ส่ง",
  "prof.messages.none": "ยังไม่มีข้อความที่ส่ง",
  "prof.col.journey": "เส้นทางลูกค้า",
  "prof.col.address": "ถึง",
  "prof.col.subject": "หัวเรื่อง",
  "prof.col.opened": "เปิดอ่าน",
  "prof.col.clicked": "คลิก",
  "prof.recs": "สินค้าแนะนำ",
  "prof.recs.none": "ไม่มีสินค้าแนะนำ",
  "prof.col.product": "สินค้า",
  "prof.col.category": "หมวดหมู่",
  "prof.col.price": "ราคา",
  "prof.col.reason": "เหตุผล",
  "prof.identity": "ทำไมระเบียนเหล่านี้จึงเป็นคนเดียวกัน",
  "prof.id.records": "ระเบียน ({n})",
  "prof.id.mergedfrom": "โปรไฟล์ที่ถูกรวมเข้ามา",
  "prof.id.edges": "สิ่งที่เชื่อมโยงระเบียน",
  "prof.id.references": "คำสั่งซื้อ ใบแจ้งหนี้ และรหัสอ้างอิงอื่น ({n})",
  "prof.id.edges.count": "{n} การเชื่อมโยง",
  "prof.col.a": "ระเบียน",
  "prof.col.b": "เชื่อมกับ",
  "prof.col.link": "การเชื่อม",
  "prof.col.because": "เพราะ",
  "prof.col.probability": "ความน่าจะเป็น",
  "prof.id.comparisons": "การเปรียบเทียบ",
  "prof.id.comparison": "{field}: {level} ({weight})",
  "prof.id.history": "การรวมและการแยก",
  "prof.col.action": "การดำเนินการ",
  "prof.col.other": "โปรไฟล์อื่น",
  "prof.id.questions": "คำถามที่ยังค้างอยู่",
  "prof.id.questions.count": "มีคู่ระเบียน {n} คู่รอบโปรไฟล์นี้ที่รอการตรวจสอบ",
  "prof.link.deterministic": "ตัวระบุร่วมหรือกฎ",
  "prof.link.probabilistic": "จับคู่ด้วยคะแนน",
  "prof.link.attach": "แนบ",
  "prof.link.reviewed": "ตัดสินโดยเจ้าหน้าที่",
  "prof.split": "แยกระเบียนออก",
  "prof.split.intro": "เลือกระเบียนที่เป็นของคนอื่นและระบุเหตุผล ระเบียนเหล่านั้นจะย้ายไปเป็นโปรไฟล์แยก และระบบจะไม่รวมกลับอีก",
  "prof.split.select": "ย้าย {record}",
  "prof.split.reason": "เหตุผล",
  "prof.split.start": "แยกระเบียนที่เลือก",
  "prof.split.pick": "เลือกอย่างน้อยหนึ่งระเบียน แต่ไม่ใช่ทั้งหมด",
  "prof.split.why": "ระบุเหตุผลว่าทำไมระเบียนเหล่านี้ไม่ใช่คนนี้",
  "prof.split.confirm": "ย้าย {n} ระเบียนออกจากโปรไฟล์นี้อย่างถาวรหรือไม่?",
  "prof.split.yes": "ใช่ แยกเลย",
  "prof.split.done": "แยกเรียบร้อย ระเบียนอยู่ในโปรไฟล์เหล่านี้แล้ว:",
  "prof.split.this": "(โปรไฟล์นี้)",
  "prof.section.error": "โหลดส่วนนี้ไม่ได้: {message}",
  "prof.days": "{n} วัน",
  "prof.kind.event": "เหตุการณ์ที่ติดตาม",
  "prof.kind.contact": "ข้อมูลติดต่อ",
  "prof.kind.order": "คำสั่งซื้อ",
  "prof.kind.order_item": "รายการสินค้าในคำสั่งซื้อ",
  "prof.kind.invoice": "ใบแจ้งหนี้",
  "prof.kind.payment": "การชำระเงิน",
  "prof.kind.shipment": "การจัดส่ง",
  "prof.kind.ticket": "ทิกเก็ต",
  "prof.kind.survey_response": "คำตอบแบบสำรวจ",
  "prof.kind.feedback": "ความคิดเห็น",
  "prof.kind.registration": "การลงทะเบียน",
  "prof.kind.subscription": "การสมัครรับข่าวสาร",
  "prof.kind.web_event": "เหตุการณ์บนเว็บ",
  "prof.f.first_name": "ชื่อ",
  "prof.f.middle_name": "ชื่อกลาง",
  "prof.f.last_name": "นามสกุล",
  "prof.f.full_name": "ชื่อ-นามสกุล",
  "prof.f.nickname": "ชื่อเล่น",
  "prof.f.email": "อีเมล",
  "prof.f.phone": "โทรศัพท์",
  "prof.f.line_user_id": "LINE ID",
  "prof.f.zalo_user_id": "Zalo ID",
  "prof.f.gender": "เพศ",
  "prof.f.birth_date": "วันเกิด",
  "prof.f.language": "ภาษา",
  "prof.f.address": "ที่อยู่",
  "prof.f.subdistrict": "ตำบล/แขวง",
  "prof.f.district": "อำเภอ/เขต",
  "prof.f.province": "จังหวัด",
  "prof.f.postal_code": "รหัสไปรษณีย์",
  "prof.f.country": "ประเทศ",
  "prof.f.national_id": "เลขประจำตัวประชาชน",
  "prof.f.company": "บริษัท",
  "prof.f.job_title": "ตำแหน่งงาน",
  "prof.tr.value_tier": "ระดับมูลค่า",
  "prof.tr.lifetime_value": "มูลค่าตลอดอายุ",
  "prof.tr.order_count": "จำนวนคำสั่งซื้อ",
  "prof.tr.average_order_value": "ยอดเฉลี่ยต่อคำสั่งซื้อ",
  "prof.tr.first_purchase_at_us": "ซื้อครั้งแรก",
  "prof.tr.last_purchase_at_us": "ซื้อครั้งล่าสุด",
  "prof.tr.average_purchase_gap_days": "จำนวนวันระหว่างการซื้อ",
  "prof.tr.favourite_categories": "หมวดหมู่ที่ชอบ",
  "prof.tr.favourite_branch": "สาขาที่ใช้บ่อย",
  "prof.tr.purchase_channels": "ช่องทางที่ซื้อ",
  "prof.tr.rfm": "RFM",
  "prof.tr.preferred_channel": "ช่องทางที่ชอบ",
  "prof.tr.best_contact_hours": "ช่วงเวลาที่ควรติดต่อ",
  "prof.tr.best_contact_weekdays": "วันที่ควรติดต่อ",
  "prof.tr.last_contact_at_us": "ติดต่อครั้งล่าสุด",
  "prof.tr.open_tickets": "ทิกเก็ตที่เปิดอยู่",
  "prof.tr.last_ticket_at_us": "ทิกเก็ตล่าสุด",
  "prof.tr.last_nps": "NPS ล่าสุด",
  "prof.tr.sentiment": "ความรู้สึก",
  "prof.tr.churn_risk": "ความเสี่ยงที่จะเลิกใช้",
  "prof.tr.days_since_last_contact": "วันนับจากการติดต่อครั้งล่าสุด",
  "prof.tr.days_since_last_purchase": "วันนับจากการซื้อครั้งล่าสุด",
  "prof.other": "คุณลักษณะอื่น",
};

const vi = {
  "prof.title": "Hồ sơ khách hàng",
  "prof.merged": "Mã này đã được gộp vào hồ sơ đang hiển thị.",
  "prof.noname": "(không có tên)",
  "prof.back": "Quay lại tìm kiếm",
  "prof.next": "Hành động gợi ý tiếp theo",
  "prof.why": "Lý do: {why}",
  "prof.golden": "Bản ghi chuẩn (golden record)",
  "prof.golden.none": "Chưa có giá trị nào.",
  "prof.col.field": "Trường",
  "prof.col.value": "Giá trị",
  "prof.col.source": "Nguồn",
  "prof.col.record": "Bản ghi",
  "prof.col.rule": "Được chọn vì",
  "prof.col.date": "Tính đến",
  "prof.col.others": "Giá trị khác",
  "prof.alt": "{value} ({sources}, {n} bản ghi)",
  "prof.addresses": "Địa chỉ",
  "prof.identifiers": "Định danh",
  "prof.col.type": "Loại",
  "prof.household": "Hộ gia đình",
  "prof.household.none": "Không thuộc hộ gia đình nào.",
  "prof.household.id": "Hộ gia đình {id}",
  "prof.linked": "Bản ghi đang giữ",
  "prof.traits": "Thuộc tính tính toán",
  "prof.segments": "Phân khúc",
  "prof.segments.none": "Hiện không thuộc phân khúc nào.",
  "prof.consents": "Sự đồng ý",
  "prof.col.purpose": "Mục đích",
  "prof.col.granted": "Đã đồng ý",
  "prof.col.stated": "Do người đó nêu",
  "prof.col.channels": "Kênh",
  "prof.subscriptions": "Đăng ký nhận tin",
  "prof.ledger": "Lịch sử đồng ý",
  "prof.col.channel": "Kênh",
  "prof.col.state": "Trạng thái",
  "prof.col.method": "Cách thức",
  "prof.col.when": "Thời điểm",
  "prof.timeline": "Dòng thời gian",
  "prof.tl.kinds": "Chỉ hiển thị",
  "prof.tl.since": "Từ",
  "prof.tl.until": "Đến",
  "prof.tl.apply": "Lọc",
  "prof.tl.reset": "Hiển thị tất cả",
  "prof.tl.count": "Đang hiển thị {n} mục",
  "prof.tl.more": "Tải các mục cũ hơn",
  "prof.tl.end": "Đã hiển thị tất cả.",
  "prof.tl.none": "Không có gì trong khoảng thời gian này.",
  "prof.col.kind": "Loại",
  "prof.col.detail": "Chi tiết",
  "prof.tl.lines": "{n} dòng hàng",
  "prof.details": "Tất cả các trường",
  "prof.feedback": "Phản hồi và phiếu hỗ trợ",
  "prof.tickets": "Phiếu hỗ trợ",
  "prof.col.ticket": "Phiếu",
  "prof.col.topic": "Chủ đề",
  "prof.col.status": "Trạng thái",
  "prof.col.priority": "Mức ưu tiên",
  "prof.col.agent": "Nhân viên",
  "prof.col.note": "Ghi chú gần nhất",
  "prof.requests": "Phản hồi",
  "prof.col.text": "Khách hàng nói gì",
  "prof.col.sentiment": "Cảm xúc",
  "prof.col.level": "Cấp độ",
  "prof.tickets.none": "Không có phiếu hỗ trợ.",
  "prof.requests.none": "Không có phản hồi.",
  "prof.messages": "Tin nhắn đã gửi",
  "prof.messages.none": "Chưa gửi tin nhắn nào.",
  "prof.col.journey": "Hành trình",
  "prof.col.address": "Đến",
  "prof.col.subject": "Tiêu đề",
  "prof.col.opened": "Đã mở",
  "prof.col.clicked": "Đã nhấp",
  "prof.recs": "Sản phẩm gợi ý",
  "prof.recs.none": "Không có gợi ý.",
  "prof.col.product": "Sản phẩm",
  "prof.col.category": "Danh mục",
  "prof.col.price": "Giá",
  "prof.col.reason": "Lý do",
  "prof.identity": "Vì sao các bản ghi này là một người",
  "prof.id.records": "Bản ghi ({n})",
  "prof.id.mergedfrom": "Các hồ sơ đã gộp vào hồ sơ này",
  "prof.id.edges": "Điều gì liên kết chúng",
  "prof.id.references": "Đơn hàng, hóa đơn và mã tham chiếu khác ({n})",
  "prof.id.edges.count": "{n} liên kết",
  "prof.col.a": "Bản ghi",
  "prof.col.b": "Liên kết với",
  "prof.col.link": "Liên kết",
  "prof.col.because": "Vì",
  "prof.col.probability": "Xác suất",
  "prof.id.comparisons": "So sánh",
  "prof.id.comparison": "{field}: {level} ({weight})",
  "prof.id.history": "Gộp và tách",
  "prof.col.action": "Thao tác",
  "prof.col.other": "Hồ sơ khác",
  "prof.id.questions": "Câu hỏi còn mở",
  "prof.id.questions.count": "{n} cặp bản ghi quanh hồ sơ này đang chờ xét duyệt.",
  "prof.link.deterministic": "định danh chung hoặc quy tắc",
  "prof.link.probabilistic": "khớp theo điểm",
  "prof.link.attach": "gắn kèm",
  "prof.link.reviewed": "do người quyết định",
  "prof.split": "Tách bản ghi ra",
  "prof.split.intro": "Đánh dấu các bản ghi thuộc về người khác và nêu lý do. Chúng sẽ chuyển sang một hồ sơ riêng và bộ so khớp sẽ không bao giờ gộp lại.",
  "prof.split.select": "Chuyển {record}",
  "prof.split.reason": "Lý do",
  "prof.split.start": "Tách các bản ghi đã đánh dấu",
  "prof.split.pick": "Đánh dấu ít nhất một bản ghi, nhưng không phải tất cả.",
  "prof.split.why": "Hãy nêu lý do các bản ghi này không phải người này.",
  "prof.split.confirm": "Chuyển vĩnh viễn {n} bản ghi ra khỏi hồ sơ này?",
  "prof.split.yes": "Có, tách",
  "prof.split.done": "Đã tách. Các bản ghi giờ nằm trong các hồ sơ sau:",
  "prof.split.this": "(hồ sơ này)",
  "prof.section.error": "Không tải được phần này: {message}",
  "prof.days": "{n} ngày",
  "prof.kind.event": "Sự kiện theo dõi",
  "prof.kind.contact": "Liên hệ",
  "prof.kind.order": "Đơn hàng",
  "prof.kind.order_item": "Dòng đơn hàng",
  "prof.kind.invoice": "Hóa đơn",
  "prof.kind.payment": "Thanh toán",
  "prof.kind.shipment": "Giao hàng",
  "prof.kind.ticket": "Phiếu hỗ trợ",
  "prof.kind.survey_response": "Trả lời khảo sát",
  "prof.kind.feedback": "Phản hồi",
  "prof.kind.registration": "Đăng ký",
  "prof.kind.subscription": "Đăng ký nhận tin",
  "prof.kind.web_event": "Sự kiện web",
  "prof.f.first_name": "Tên",
  "prof.f.middle_name": "Tên đệm",
  "prof.f.last_name": "Họ",
  "prof.f.full_name": "Họ và tên",
  "prof.f.nickname": "Biệt danh",
  "prof.f.email": "Email",
  "prof.f.phone": "Điện thoại",
  "prof.f.line_user_id": "LINE ID",
  "prof.f.zalo_user_id": "Zalo ID",
  "prof.f.gender": "Giới tính",
  "prof.f.birth_date": "Ngày sinh",
  "prof.f.language": "Ngôn ngữ",
  "prof.f.address": "Địa chỉ",
  "prof.f.subdistrict": "Phường/xã",
  "prof.f.district": "Quận/huyện",
  "prof.f.province": "Tỉnh/thành phố",
  "prof.f.postal_code": "Mã bưu chính",
  "prof.f.country": "Quốc gia",
  "prof.f.national_id": "Số định danh cá nhân",
  "prof.f.company": "Công ty",
  "prof.f.job_title": "Chức danh",
  "prof.tr.value_tier": "Hạng giá trị",
  "prof.tr.lifetime_value": "Giá trị trọn đời",
  "prof.tr.order_count": "Số đơn hàng",
  "prof.tr.average_order_value": "Giá trị đơn trung bình",
  "prof.tr.first_purchase_at_us": "Lần mua đầu tiên",
  "prof.tr.last_purchase_at_us": "Lần mua gần nhất",
  "prof.tr.average_purchase_gap_days": "Số ngày giữa các lần mua",
  "prof.tr.favourite_categories": "Danh mục yêu thích",
  "prof.tr.favourite_branch": "Chi nhánh hay đến",
  "prof.tr.purchase_channels": "Kênh mua hàng",
  "prof.tr.rfm": "RFM",
  "prof.tr.preferred_channel": "Kênh ưa thích",
  "prof.tr.best_contact_hours": "Giờ nên liên hệ",
  "prof.tr.best_contact_weekdays": "Ngày nên liên hệ",
  "prof.tr.last_contact_at_us": "Lần liên hệ gần nhất",
  "prof.tr.open_tickets": "Phiếu đang mở",
  "prof.tr.last_ticket_at_us": "Phiếu gần nhất",
  "prof.tr.last_nps": "NPS gần nhất",
  "prof.tr.sentiment": "Cảm xúc",
  "prof.tr.churn_risk": "Nguy cơ rời bỏ",
  "prof.tr.days_since_last_contact": "Số ngày từ lần liên hệ gần nhất",
  "prof.tr.days_since_last_purchase": "Số ngày từ lần mua gần nhất",
  "prof.other": "Thuộc tính khác",
};

export const messages = { en, th, vi };

const TIMELINE_PAGE = 25;

// -- small helpers -----------------------------------------------------------------------

const fromUs = (us) => (us === null || us === undefined ? null : new Date(Number(us) / 1000));
// the stylesheet gives buttons a display, which beats the hidden attribute
const showIf = (el, yes) => {
  el.style.display = yes ? "" : "none";
  return el;
};
const profileLink = (id, label) => h("a", { href: `#/profiles/${encodeURIComponent(id)}`, "data-profile": id }, label || id);
const fieldLabel = (name) => (FIELDS.includes(name) ? t(`prof.f.${name}`) : name);
const kindLabel = (kind) => (KINDS.includes(kind) ? t(`prof.kind.${kind}`) : kind);

function isMasked(ctx, kind, text) {
  return (kind && ctx.masks(kind)) || String(text).includes("●●●");
}

function plain(value) {
  if (value === null || value === undefined || value === "") return "–";
  if (Array.isArray(value)) return value.map(plain).join(", ");
  if (typeof value === "object") {
    if ("amount" in value && Object.keys(value).length <= 2) return value.currency ? `${value.amount} ${value.currency}` : String(value.amount);
    return Object.values(value)
      .filter((v) => v !== null && v !== undefined && v !== "")
      .map(plain)
      .join(", ");
  }
  return String(value);
}

// A personal value as the API sent it: masked ones carry the "masked" class and a title.
function shown(ctx, name, value) {
  const text = plain(value);
  if (text === "–") return text;
  return isMasked(ctx, KIND_OF[name], text) ? h("span", { class: "masked", title: t("common.masked") }, text) : text;
}

function section(id, title, ...children) {
  return h("section", { class: "card stack", id, "aria-labelledby": `${id}-h` }, h("h2", { id: `${id}-h` }, title), ...children);
}

function failed(error) {
  return errorBox(t("prof.section.error", { message: error.message }));
}

function amountOf(value, currency) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "object" && "amount" in value) {
    const n = Number(value.amount);
    const cur = value.currency || currency;
    return Number.isFinite(n) && cur ? money(n, cur) : plain(value);
  }
  return plain(value);
}

// -- the page ----------------------------------------------------------------------------

export async function render(view, ctx) {
  const requested = ctx.params[0];
  const profile = await api(`/api/profiles/${encodeURIComponent(requested)}`);
  const id = profile.id;
  const values = (profile.golden && profile.golden.values) || {};
  const nameValue = values.full_name ? values.full_name.value : [values.first_name, values.last_name].filter(Boolean).map((v) => v.value).join(" ");
  const asked = {
    briefing: api(`/api/profiles/${encodeURIComponent(id)}/briefing`),
    recommendations: api(`/api/profiles/${encodeURIComponent(id)}/recommendations`),
    identity: api(`/api/profiles/${encodeURIComponent(id)}/identity`),
    messages: api(`/api/profiles/${encodeURIComponent(id)}/messages`, { query: { limit: 20 } }),
    consents: ctx.can("consent.read") ? api(`/api/profiles/${encodeURIComponent(id)}/consents`) : null,
  };
  const names = Object.keys(asked);
  const settled = await Promise.allSettled(names.map((n) => asked[n]));
  const got = Object.fromEntries(names.map((n, i) => [n, settled[i]]));

  view.dataset.profile = id;
  clear(
    view,
    h("p", {}, h("a", { href: "#/customers" }, t("prof.back"))),
    h("h1", { id: "profile-name" }, nameValue ? shown(ctx, "full_name", nameValue) : t("prof.noname")),
    h("p", { class: "muted" }, t("prof.title"), " · ", h("code", {}, id)),
    id !== requested ? h("p", { class: "notice", id: "merged-notice" }, t("prof.merged")) : null,
    nextAction(ctx, got.briefing),
    h("div", { style: "margin-top:1rem" }, goldenSection(ctx, profile)),
    h("div", { class: "grid wide", style: "margin-top:1rem" }, traitsSection(profile), identifiersSection(ctx, profile)),
    h("div", { class: "grid wide", style: "margin-top:1rem" }, householdSection(profile), segmentsSection(profile)),
    got.consents.value !== null || got.consents.status === "rejected" ? h("div", { style: "margin-top:1rem" }, consentsSection(got.consents)) : null,
    h("div", { style: "margin-top:1rem" }, timelineSection(ctx, id)),
    h("div", { style: "margin-top:1rem" }, feedbackSection(ctx, got.briefing)),
    h("div", { style: "margin-top:1rem" }, messagesSection(ctx, id, got.messages)),
    h("div", { style: "margin-top:1rem" }, recommendationsSection(got.recommendations)),
    h("div", { style: "margin-top:1rem" }, identitySection(ctx, id, got.identity)),
  );
  await view.querySelector("#timeline").loaded;
}

function nextAction(ctx, result) {
  if (result.status === "rejected") return section("next-action", t("prof.next"), failed(result.reason));
  const b = result.value;
  return h(
    "section",
    { class: "card stack", id: "next-action", "aria-labelledby": "next-action-h" },
    h("h2", { id: "next-action-h" }, t("prof.next")),
    h("p", { class: "stat", style: "font-size:1.3rem" }, b.next_action ? b.next_action.action : "–"),
    b.next_action && b.next_action.why ? h("p", { class: "muted" }, t("prof.why", { why: b.next_action.why })) : null,
    b.summary ? h("p", {}, isMasked(ctx, null, b.summary) ? h("span", { class: "masked", title: t("common.masked") }, b.summary) : b.summary) : null,
  );
}

function goldenSection(ctx, profile) {
  const golden = profile.golden || {};
  const values = golden.values || {};
  const alternatives = golden.alternatives || {};
  const order = [...FIELDS.filter((f) => f in values), ...Object.keys(values).filter((f) => !FIELDS.includes(f) && f !== "contact_address")];
  const rows = order.map((name) => ({ name, ...values[name] }));
  const others = (row) => {
    const alts = (alternatives[row.name] || []).filter((a) => plain(a.value) !== plain(row.value));
    if (!alts.length) return "–";
    return h(
      "ul",
      { style: "margin:0;padding-left:1rem" },
      alts.map((a) => h("li", {}, shown(ctx, row.name, a.value), " ", h("span", { class: "muted" }, `(${a.sources.join(", ")}, ${number(a.record_count)})`))),
    );
  };
  const addresses = golden.addresses || [];
  return section(
    "golden",
    t("prof.golden"),
    table(
      [
        { label: t("prof.col.field"), value: (r) => fieldLabel(r.name) },
        { label: t("prof.col.value"), value: (r) => h("span", { "data-field": r.name }, shown(ctx, r.name, r.value)) },
        { label: t("prof.col.source"), value: (r) => h("span", { class: "badge", "data-source": r.source }, r.source) },
        { label: t("prof.col.record"), value: (r) => h("code", {}, r.record_id || "–") },
        { label: t("prof.col.rule"), value: (r) => r.rule || "–" },
        { label: t("prof.col.date"), value: (r) => date(fromUs(r.at_us)) },
        { label: t("prof.col.others"), value: others },
      ],
      rows,
      { caption: t("prof.golden"), empty: t("prof.golden.none") },
    ),
    addresses.length
      ? h(
          "div",
          {},
          h("h3", {}, t("prof.addresses")),
          table(
            [
              { label: t("prof.col.type"), value: (a) => a.type },
              { label: t("prof.f.address"), value: (a) => shown(ctx, "address", a.parts) },
              { label: t("prof.col.source"), value: (a) => h("span", { class: "badge" }, a.source) },
              { label: t("prof.col.date"), value: (a) => date(fromUs(a.last_at_us)) },
            ],
            addresses,
            { caption: t("prof.addresses") },
          ),
        )
      : null,
  );
}

const REFERENCES = new Set(["order_id", "invoice_id", "payment_id", "shipment_id", "ticket_id", "line_id", "survey_id", "registration_id", "subscription_id", "tracking_number"]);

function identifiersSection(ctx, profile) {
  const idKind = { email: "email", phone: "phone", national_id: "national_id", line_user_id: "phone", zalo_user_id: "phone" };
  const columns = [
    { label: t("prof.col.type"), value: (i) => i.type },
    { label: t("prof.col.value"), value: (i) => (isMasked(ctx, idKind[i.type], i.value) ? h("span", { class: "masked", title: t("common.masked") }, i.value) : i.value) },
    { label: t("prof.col.source"), value: (i) => h("span", { class: "badge" }, i.source) },
  ];
  const all = profile.identifiers || [];
  const people = all.filter((i) => !REFERENCES.has(i.type));
  const references = all.filter((i) => REFERENCES.has(i.type));
  return section(
    "identifiers",
    t("prof.identifiers"),
    table(columns, people, { caption: t("prof.identifiers"), empty: t("common.none") }),
    references.length
      ? h("details", {}, h("summary", {}, t("prof.id.references", { n: references.length })), table(columns, references, { caption: t("prof.id.references", { n: references.length }) }))
      : null,
    h("h3", {}, t("prof.linked")),
    h(
      "p",
      { class: "row", style: "flex-wrap:wrap;gap:.5rem" },
      Object.entries(profile.linked || {}).map(([kind, n]) => h("span", { class: "badge", "data-linked": kind }, `${kindLabel(kind)}: ${number(n)}`)),
    ),
  );
}

function traitValue(name, value, computed) {
  if (value === null || value === undefined || (Array.isArray(value) && !value.length)) return "–";
  if (name.endsWith("_at_us")) return date(fromUs(value));
  if (name === "lifetime_value" || name === "average_order_value") return money(value, computed.lifetime_value_currency || "THB");
  if (name.endsWith("_days") || name.startsWith("days_since")) return t("prof.days", { n: Math.round(value) });
  if (name === "sentiment" && typeof value === "object") return [value.last, value.trend].filter(Boolean).join(", ");
  if (name === "churn_risk" && typeof value === "number") {
    const reasons = computed.churn_risk_reasons || [];
    return `${percent(value, 0)}${reasons.length ? ` (${reasons.join(", ")})` : ""}`;
  }
  if (typeof value === "number") return number(value);
  if (typeof value === "object" && !Array.isArray(value)) {
    return Object.entries(value)
      .map(([k, v]) => `${k} ${plain(v)}`)
      .join(", ");
  }
  return plain(value);
}

function traitsSection(profile) {
  const computed = profile.computed || {};
  const skip = new Set([...TRAITS, "lifetime_value_currency", "revenue_by_currency", "unconverted_currencies", "churn_risk_reasons"]);
  const known = TRAITS.filter((k) => k in computed);
  const extra = Object.keys(computed).filter((k) => !skip.has(k));
  const traits = profile.traits || {};
  const pairs = (keys, label, source) => keys.flatMap((k) => [h("dt", {}, label(k)), h("dd", { "data-trait": k }, traitValue(k, source[k], computed))]);
  return section(
    "traits",
    t("prof.traits"),
    h("dl", { class: "kv" }, pairs(known, (k) => t(`prof.tr.${k}`), computed)),
    extra.length || Object.keys(traits).length
      ? h("div", {}, h("h3", {}, t("prof.other")), h("dl", { class: "kv" }, pairs(extra, (k) => k, computed), pairs(Object.keys(traits), (k) => k, traits)))
      : null,
  );
}

function householdSection(profile) {
  return section(
    "household",
    t("prof.household"),
    profile.household_id ? h("p", { "data-household": profile.household_id }, t("prof.household.id", { id: profile.household_id })) : h("p", { class: "muted" }, t("prof.household.none")),
  );
}

function segmentsSection(profile) {
  const segments = profile.segments || [];
  return section(
    "segments",
    t("prof.segments"),
    segments.length
      ? h("ul", {}, segments.map((s) => h("li", {}, h("a", { href: `#/segments/${encodeURIComponent(s)}` }, s))))
      : h("p", { class: "muted" }, t("prof.segments.none")),
  );
}

function consentsSection(result) {
  if (result.status === "rejected") return section("consents", t("prof.consents"), failed(result.reason));
  const state = result.value.state || {};
  const purposes = Object.entries(state.purposes || {}).map(([name, p]) => ({ name, ...p }));
  const known = state.purposes || {};
  const yes = (v) => h("span", { class: v ? "good" : "muted" }, v ? t("common.yes") : t("common.no"));
  return section(
    "consents",
    t("prof.consents"),
    h(
      "div",
      { class: "grid wide" },
      table(
        [
          { label: t("prof.col.purpose"), value: (p) => purposeCell(p.name, p) },
          { label: t("prof.col.granted"), value: (p) => yes(p.granted) },
          { label: t("prof.col.stated"), value: (p) => yes(p.stated) },
          {
            label: t("prof.col.channels"),
            value: (p) =>
              Object.entries(p.channels || {})
                .filter(([, v]) => v)
                .map(([c]) => term("channel", c))
                .join(", ") || "–",
          },
        ],
        purposes,
        { caption: t("prof.consents") },
      ),
      h(
        "div",
        {},
        h("h3", {}, t("prof.subscriptions")),
        h("dl", { class: "kv" }, Object.entries(state.subscriptions || {}).flatMap(([c, s]) => [h("dt", {}, term("channel", c)), h("dd", { class: s === "subscribed" ? "good" : null }, term("consent.state", s))])),
      ),
    ),
    h("h3", {}, t("prof.ledger")),
    table(
      [
        { label: t("prof.col.when"), value: (e) => dateTime(e.at) },
        { label: t("prof.col.purpose"), value: (e) => purposeCell(e.purpose, known[e.purpose]) },
        { label: t("prof.col.channel"), value: (e) => term("channel", e.channel) },
        { label: t("prof.col.state"), value: (e) => term("consent.state", e.state) },
        { label: t("prof.col.source"), value: (e) => h("span", { class: "badge" }, e.source) },
        { label: t("prof.col.method"), value: (e) => e.method },
      ],
      result.value.ledger || [],
      { caption: t("prof.ledger"), empty: t("common.none") },
    ),
  );
}

// -- timeline ------------------------------------------------------------------------------

function summaryOf(ctx, item) {
  const f = item.fields || {};
  const parts = [];
  if (item.kind === "event") {
    parts.push(item.event || item.name || item.type);
    return parts.filter(Boolean).join(" · ");
  }
  const total = f.total || f.amount || f.line_total;
  if (total) parts.push(amountOf(total, f.currency));
  for (const key of ["topic", "subject", "product_name", "name", "event_name", "carrier", "store", "method", "status", "score", "notes", "comment"]) {
    if (f[key] !== undefined && f[key] !== null && f[key] !== "" && key !== "name") parts.push(plain(f[key]));
    if (parts.length >= 4) break;
  }
  if (item.lines && item.lines.length) parts.push(t("prof.tl.lines", { n: item.lines.length }));
  return parts.join(" · ");
}

function detailsOf(ctx, item) {
  const f = item.fields || item.properties || {};
  const entries = Object.entries(f);
  if (!entries.length) return null;
  return h(
    "details",
    {},
    h("summary", {}, t("prof.details")),
    h(
      "dl",
      { class: "kv" },
      entries.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, KIND_OF[k] ? shown(ctx, k, v) : typeof v === "object" && v && "amount" in v ? amountOf(v, f.currency) : plain(v))]),
    ),
  );
}

function timelineSection(ctx, id) {
  const boxes = KINDS.map((k) => h("input", { type: "checkbox", name: "kind", value: k }));
  const since = h("input", { type: "date", name: "since" });
  const until = h("input", { type: "date", name: "until" });
  const status = h("p", { class: "muted", "aria-live": "polite", id: "timeline-status" });
  const body = h("tbody");
  const more = showIf(h("button", { type: "button", class: "secondary" }, t("prof.tl.more")), false);
  const holder = h("div", {});
  const state = { cursor: null, count: 0, filter: {} };

  const row = (item) =>
    h(
      "tr",
      { "data-kind": item.kind },
      h("td", {}, dateTime(item.at)),
      h("td", {}, h("span", { class: "badge" }, kindLabel(item.kind))),
      h("td", {}, item.source),
      h("td", {}, h("div", {}, item.record_id ? [h("code", {}, item.record_id), " "] : null, summaryOf(ctx, item)), detailsOf(ctx, item)),
    );

  const load = async (fresh) => {
    sectionEl.dataset.state = "loading";
    more.disabled = true;
    if (fresh) {
      state.cursor = null;
      state.count = 0;
      clear(body);
    }
    try {
      const page = await api(`/api/profiles/${encodeURIComponent(id)}/timeline`, { query: { ...state.filter, cursor: state.cursor, limit: TIMELINE_PAGE } });
      page.items.forEach((item) => body.append(row(item)));
      state.count += page.items.length;
      state.cursor = page.next;
      showIf(more, page.next);
      clear(holder, state.count ? tableEl : h("p", { class: "notice" }, t("prof.tl.none")));
      status.textContent = `${t("prof.tl.count", { n: state.count })}${page.next ? "" : ` ${t("prof.tl.end")}`}`;
      sectionEl.dataset.count = String(state.count);
      sectionEl.dataset.state = "ready";
    } catch (error) {
      clear(holder, failed(error));
      sectionEl.dataset.state = "error";
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener("click", () => load(false));

  const dayStart = (value) => (value ? new Date(`${value}T00:00:00`).toISOString() : undefined);
  const dayAfter = (value) => {
    if (!value) return undefined;
    const d = new Date(`${value}T00:00:00`);
    d.setDate(d.getDate() + 1);
    return d.toISOString();
  };
  const form = h(
    "form",
    {
      class: "stack",
      onsubmit: (event) => {
        event.preventDefault();
        const kinds = boxes.filter((b) => b.checked).map((b) => b.value);
        state.filter = { kinds: kinds.join(","), since: dayStart(since.value), until: dayAfter(until.value) };
        load(true);
      },
    },
    h(
      "fieldset",
      {},
      h("legend", {}, t("prof.tl.kinds")),
      h(
        "div",
        { class: "row", style: "flex-wrap:wrap;gap:.25rem 1rem" },
        boxes.map((b) => {
          b.id = `tl-kind-${b.value}`;
          return h("label", { for: b.id, style: "font-weight:normal" }, b, " ", kindLabel(b.value));
        }),
      ),
    ),
    h(
      "div",
      { class: "row", style: "flex-wrap:wrap;gap:1rem;align-items:flex-end" },
      field(t("prof.tl.since"), since),
      field(t("prof.tl.until"), until),
      h("button", { type: "submit" }, t("prof.tl.apply")),
      h(
        "button",
        {
          type: "button",
          class: "secondary",
          onclick: () => {
            boxes.forEach((b) => (b.checked = false));
            since.value = "";
            until.value = "";
            state.filter = {};
            load(true);
          },
        },
        t("prof.tl.reset"),
      ),
    ),
  );
  const tableEl = h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h("caption", { class: "sr-only" }, t("prof.timeline")),
      h("thead", {}, h("tr", {}, [t("prof.col.when"), t("prof.col.kind"), t("prof.col.source"), t("prof.col.detail")].map((c) => h("th", { scope: "col" }, c)))),
      body,
    ),
  );
  const sectionEl = section("timeline", t("prof.timeline"), form, status, holder, more);
  sectionEl.loaded = load(true);
  return sectionEl;
}

// -- feedback, messages, recommendations ---------------------------------------------------

function feedbackSection(ctx, result) {
  if (result.status === "rejected") return section("feedback", t("prof.feedback"), failed(result.reason));
  const b = result.value;
  const seen = new Set();
  const tickets = [...(b.open_tickets || []), ...(b.recent_tickets || [])].filter((tk) => {
    const key = `${tk.source}:${tk.ticket_id}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const link = (r) => (ctx.can("feedback.read") ? h("a", { href: `#/feedback/${encodeURIComponent(r.id)}` }, `#${r.id}`) : `#${r.id}`);
  return section(
    "feedback",
    t("prof.feedback"),
    h("h3", {}, t("prof.tickets")),
    table(
      [
        { label: t("prof.col.ticket"), value: (tk) => h("code", {}, tk.ticket_id) },
        { label: t("prof.col.when"), value: (tk) => date(tk.opened_at) },
        { label: t("prof.col.topic"), value: (tk) => plain(tk.subject || tk.topic) },
        { label: t("prof.col.status"), value: (tk) => plain(tk.status) },
        { label: t("prof.col.priority"), value: (tk) => plain(tk.priority) },
        { label: t("prof.col.agent"), value: (tk) => plain(tk.agent) },
        { label: t("prof.col.note"), value: (tk) => plain(tk.last_note) },
      ],
      tickets,
      { caption: t("prof.tickets"), empty: t("prof.tickets.none") },
    ),
    h("h3", {}, t("prof.requests")),
    table(
      [
        { label: "#", value: link },
        { label: t("prof.col.when"), value: (r) => date(r.received_at) },
        { label: t("prof.col.channel"), value: (r) => plain(r.channel) },
        { label: t("prof.col.text"), value: (r) => plain(r.text) },
        { label: t("prof.col.sentiment"), value: (r) => plain(r.sentiment) },
        { label: t("prof.col.level"), value: (r) => plain(r.level) },
        { label: t("prof.col.status"), value: (r) => plain(r.status) },
      ],
      b.requests || [],
      { caption: t("prof.requests"), empty: t("prof.requests.none") },
    ),
  );
}

function messagesSection(ctx, id, result) {
  if (result.status === "rejected") return section("messages", t("prof.messages"), failed(result.reason));
  const columns = [
    { label: t("prof.col.when"), value: (m) => dateTime(m.sent_at || m.created_at) },
    { label: t("prof.col.journey"), value: (m) => (m.journey ? h("a", { href: `#/journeys/${encodeURIComponent(m.journey)}` }, m.journey) : "–") },
    { label: t("prof.col.channel"), value: (m) => m.channel },
    { label: t("prof.col.address"), value: (m) => shown(ctx, m.channel === "email" ? "email" : "phone", m.address) },
    { label: t("prof.col.subject"), value: (m) => plain(m.subject) },
    { label: t("prof.col.status"), value: (m) => h("span", { title: m.reason || null }, m.status) },
    { label: t("prof.col.opened"), value: (m) => (m.opened_at ? dateTime(m.opened_at) : "–") },
    { label: t("prof.col.clicked"), value: (m) => (m.clicked_at ? dateTime(m.clicked_at) : "–") },
  ];
  const holder = h("div", {}, table(columns, result.value.messages, { caption: t("prof.messages"), empty: t("prof.messages.none") }));
  let next = result.value.next;
  let shownMessages = [...result.value.messages];
  const more = h(
    "button",
    {
      type: "button",
      class: "secondary",
      onclick: async () => {
        more.disabled = true;
        try {
          const page = await api(`/api/profiles/${encodeURIComponent(id)}/messages`, { query: { limit: 20, cursor: next } });
          shownMessages = [...shownMessages, ...page.messages];
          next = page.next;
          clear(holder, table(columns, shownMessages, { caption: t("prof.messages") }));
          showIf(more, next);
        } catch (error) {
          holder.append(failed(error));
        } finally {
          more.disabled = false;
        }
      },
    },
    t("common.more"),
  );
  return section("messages", t("prof.messages"), holder, showIf(more, next));
}

function recommendationsSection(result) {
  if (result.status === "rejected") return section("recommendations", t("prof.recs"), failed(result.reason));
  return section(
    "recommendations",
    t("prof.recs"),
    table(
      [
        { label: t("prof.col.product"), value: (r) => r.name || r.sku },
        { label: t("prof.col.category"), value: (r) => plain(r.category) },
        { label: t("prof.col.price"), value: (r) => (r.price === null || r.price === undefined ? "–" : money(r.price, r.currency || "THB")), num: true },
        { label: t("prof.col.reason"), value: (r) => plain(r.reason) },
      ],
      result.value.recommendations || [],
      { caption: t("prof.recs"), empty: t("prof.recs.none") },
    ),
  );
}

// -- identity --------------------------------------------------------------------------------

const refText = (r) => (typeof r === "object" && r ? `${r.source} ${r.label}` : String(r));

function identitySection(ctx, id, result) {
  if (result.status === "rejected") return section("identity", t("prof.identity"), failed(result.reason));
  const x = result.value;
  const writable = ctx.can("identity.write");
  const boxes = new Map();
  const recordRows = x.records.map((r) => {
    const box = writable && r.type === "record" ? h("input", { type: "checkbox", "data-record": `${r.source}:${r.record_id}`, "aria-label": t("prof.split.select", { record: refText(r) }) }) : null;
    if (box) boxes.set(box, r);
    return { ...r, box };
  });
  const recordColumns = [
    ...(writable ? [{ label: t("prof.split"), value: (r) => r.box || "" }] : []),
    { label: t("prof.col.source"), value: (r) => h("span", { class: "badge" }, r.source) },
    { label: t("prof.col.kind"), value: (r) => kindLabel(r.kind) },
    { label: t("prof.col.record"), value: (r) => h("code", {}, r.label) },
  ];
  const edgeRows = x.edges.map((e) => e);
  const edges = table(
    [
      { label: t("prof.col.a"), value: (e) => refText(e.a) },
      { label: t("prof.col.b"), value: (e) => refText(e.b) },
      { label: t("prof.col.link"), value: (e) => h("span", { class: "badge", "data-edge-kind": e.kind }, t(`prof.link.${e.kind}`)) },
      {
        label: t("prof.col.because"),
        value: (e) =>
          h(
            "div",
            { "data-because": "" },
            e.because,
            e.comparisons && e.comparisons.length
              ? h(
                  "details",
                  {},
                  h("summary", {}, t("prof.id.comparisons")),
                  h("ul", {}, e.comparisons.map((c) => h("li", {}, t("prof.id.comparison", { field: c.field, level: c.level, weight: number(c.weight, { maximumFractionDigits: 2 }) })))),
                )
              : null,
          ),
      },
      { label: t("prof.col.probability"), value: (e) => (e.probability === undefined ? "–" : percent(e.probability, 2)), num: true },
    ],
    edgeRows,
    { caption: t("prof.id.edges"), empty: t("common.none") },
  );
  const history = table(
    [
      { label: t("prof.col.action"), value: (m) => m.action },
      { label: t("prof.col.other"), value: (m) => profileLink(m.survivor === id ? m.other : m.survivor, (m.survivor === id ? m.other : m.survivor).slice(0, 8)) },
      { label: t("prof.col.because"), value: (m) => plain(m.reason) },
    ],
    x.history || [],
    { caption: t("prof.id.history"), empty: t("common.none") },
  );
  return section(
    "identity",
    t("prof.identity"),
    x.merged_ids && x.merged_ids.length
      ? h("p", {}, t("prof.id.mergedfrom"), ": ", x.merged_ids.map((m, i) => [i ? ", " : "", h("code", {}, m.slice(0, 8))]))
      : null,
    h("h3", {}, t("prof.id.edges")),
    h("details", { open: x.edges.length <= 12, id: "edges" }, h("summary", {}, t("prof.id.edges.count", { n: x.edges.length })), edges),
    h("h3", {}, t("prof.id.history")),
    history,
    x.open_questions && x.open_questions.length
      ? h("div", {}, h("h3", {}, t("prof.id.questions")), h("p", { "data-questions": String(x.open_questions.length) }, t("prof.id.questions.count", { n: x.open_questions.length })))
      : null,
    h("h3", {}, t("prof.id.records", { n: x.records.length })),
    writable ? h("p", { class: "muted" }, t("prof.split.intro")) : null,
    table(recordColumns, recordRows, { caption: t("prof.id.records", { n: x.records.length }) }),
    writable ? splitForm(id, boxes) : null,
  );
}

function splitForm(id, boxes) {
  const reason = h("input", { name: "reason", maxlength: 2000, style: "min-width:min(28rem,80vw)" });
  const message = h("div", { "aria-live": "polite", id: "split-message" });
  const confirm = showIf(h("div", { class: "notice stack", id: "split-confirm", role: "group" }), false);
  const chosen = () => [...boxes.entries()].filter(([b]) => b.checked).map(([, r]) => r);
  const start = h(
    "button",
    {
      type: "button",
      class: "danger",
      onclick: () => {
        clear(message);
        const picked = chosen();
        if (!picked.length || picked.length === boxes.size) {
          clear(message, errorBox(t("prof.split.pick")));
          return;
        }
        if (!reason.value.trim()) {
          clear(message, errorBox(t("prof.split.why")));
          reason.focus();
          return;
        }
        const yes = h("button", { type: "button", class: "danger", onclick: () => run(picked) }, t("prof.split.yes"));
        clear(
          confirm,
          h("p", {}, t("prof.split.confirm", { n: picked.length })),
          h("ul", {}, picked.map((r) => h("li", {}, refText(r)))),
          h("div", { class: "row" }, yes, h("button", { type: "button", class: "secondary", onclick: () => showIf(confirm, false) }, t("common.cancel"))),
        );
        showIf(confirm, true);
        yes.focus();
      },
    },
    t("prof.split.start"),
  );
  const run = async (picked) => {
    confirm.querySelectorAll("button").forEach((b) => (b.disabled = true));
    try {
      const result = await api(`/api/profiles/${encodeURIComponent(id)}/split`, {
        method: "POST",
        body: { records: picked.map((r) => ({ source: r.source, record_id: r.record_id })), reason: reason.value.trim() },
      });
      showIf(confirm, false);
      start.disabled = true;
      clear(
        message,
        h(
          "div",
          { class: "notice", id: "split-result", "data-profiles": result.profile_ids.join(",") },
          h("p", {}, t("prof.split.done")),
          h("ul", {}, result.profile_ids.map((pid) => h("li", {}, profileLink(pid), pid === id ? [" ", t("prof.split.this")] : null))),
        ),
      );
      toast(t("prof.split.done"));
    } catch (error) {
      showIf(confirm, false);
      clear(message, errorBox(t("common.error", { message: error.message })));
    }
  };
  return h("div", { class: "stack", id: "split" }, h("h3", {}, t("prof.split")), field(t("prof.split.reason"), reason), h("div", { class: "row" }, start), confirm, message);
}
