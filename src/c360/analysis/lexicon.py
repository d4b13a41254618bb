"""The words the feedback analyser knows, per language, written as customers write them.

Each list holds terms separated by commas; a term may be a phrase. Vietnamese is listed with
its diacritics and matched folded (``c360.kernel.textfold``), so a term matches with or without
them ("chậm" and "cham"); the common phone abbreviations (ko, k, dc, sp) are listed as typed.
Thai is matched anywhere in the text (Thai writes no spaces between words), longest first, so
a phrase wins over a word inside it. Terms of polarity 0 exist only to stop a shorter term
matching inside them ("อยาก", want, holds "ยาก", hard; "chăm sóc", care, holds "chậm", slow).

English terms apply to every language, since Thai and Vietnamese customers mix English words
in ("ส่งของ delay", "app bị crash").
"""

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final


def _terms(text: str) -> list[str]:
    return [term.strip() for term in text.replace("\n", ",").split(",") if term.strip()]


_EN_POSITIVE = """
good, great, excellent, amazing, awesome, fantastic, wonderful, perfect, superb, brilliant,
outstanding, love, loved, loving, lovely, like it, liked it, in one piece, really is,
expected more, nice, happy, glad, pleased,
satisfied, delighted, impressed, impressive, recommend, recommended, highly recommend, fast,
quick, quickly, speedy, prompt, on time, helpful, friendly, polite, kind, patient,
professional, courteous, attentive, responsive, easy, smooth, convenient, reliable, sturdy,
solid, durable, comfortable, beautiful, fresh, tasty, delicious, worth it, worth the money,
good value, value for money, bargain, affordable, reasonable, thank, thanks, thank you, thx,
appreciate, appreciated, grateful, kudos, well done, best, favourite, favorite, top notch,
five stars, 5 stars, 10/10, exceeded expectations, as described, as expected, works perfectly,
works great, works well, resolved quickly, fixed it, no complaints, no issues, no problems,
cool, legit, genuine, authentic, well packed, well packaged, fits perfectly, love it,
loved it, will buy again, will order again, will be back, will come back, keep it up, spot on,
arrived early, above and beyond, made my day, sorted it, sorted out, fixed, resolved, solid,
superb, gorgeous, flawless, seamless, efficient, lifesaver, life saver, 5/5, a+, stellar,
pleasant, enjoy, enjoyed, yummy,
"""

_EN_NEGATIVE = """
bad, terrible, horrible, awful, poor, worst, worse, disappointing, disappointed,
disappointment, useless, rubbish, garbage, trash, junk, scam, scammed, fraud, cheated,
rip off, ripoff, rip-off, broken, damaged, defective, faulty, cracked, dented, torn, leaking,
leaked, scratched, stained, doesn't work, does not work, not working, stopped working,
won't turn on, dead on arrival, late, delayed, delay, delays, slow, still waiting,
never arrived, not arrived, not received, never received, haven't received,
have not received, didn't receive, did not receive, lost, missing, wrong item, wrong size,
wrong colour, wrong color, wrong order, not as described, not as pictured, fake, counterfeit,
expired, spoiled, stale, rotten, smelly, rude, unhelpful, unprofessional, ignored, ignoring,
no response, no reply, no answer, nobody answered, hung up, on hold, incompetent, careless,
lazy, arrogant, overcharged, charged twice, double charged, double charge, charged me twice,
hidden fee, hidden fees, too expensive, overpriced, pricey, expensive, not worth,
waste of money, waste of time, crash, crashes, crashed, crashing, keeps crashing, bug, buggy,
glitch, glitchy, error, errors, freezes, frozen, stuck, can't log in, cannot log in,
can't login, cannot login, unable to login, unable to log in, failed, fails, failing,
not loading, won't load, doesn't load, angry, furious, annoyed, annoying, frustrated,
frustrating, upset, unhappy, unacceptable, ridiculous, pathetic, a joke, nightmare,
disgusting, disgrace, shameful, complaint, complain, complaining, problem, problems, issue,
issues, refund, cancel, cancelled, canceled, send it back, sending it back, return it,
never again, never buying, never order again, avoid, don't buy, do not buy, hate, hated,
meh, mediocre, fell apart, took forever, taking forever, been waiting, still no, still not,
yet to receive, where is my, what a joke, not again, no show, didn't show, fix this,
sort this out, wtf, worst ever, zero stars, 1 star, one star, poorly, badly, mess, messed up,
screwed up, confusing, confused, misleading, lied, liar, damage, leak, sucks, sucked, crap,
shit, fed up, sick of, tired of, nobody cares, doesn't care, don't care, mistake, wrong,
not happy, not good, not impressed, expected better, not what i ordered, nothing like,
not the first time, what is going on, what's going on, keeps moving, melted, rash, itchy,
came off, squeaks, squeaky, doesn't activate, no service, just die, died, dies, way too,
too sweet, too salty, too small, too big, turned up late, without calling, not delivered,
not refunded, not answered, tell me the truth, no one answered, noisy, loud, cold food,
food cold, leaks, peeling, faded, shrank, ripped, smashed, scratches, missing parts,
overcooked, undercooked, raw, soggy, wait time, waited, still haven't, still hasn't,
unresolved, no update, no updates, no refund, no call back, never called back, chasing,
runaround, run around, passed around, again!, seriously?, really?, hello?, anyone?
"""

_EN_GUARDS = """
okay, ok, fine, average, so so, so-so, alright, decent, no problem, not a problem,
no worries, quality check, like to, would like, i'd like, like to know, kind of, kinda,
fast forward, good morning, good afternoon, good evening, good day, feel free, thank you in advance,
thanks in advance, please, need help, error code, delivery fee, best regards, kind regards,
regards, best wishes, hope, wondering, cancel my, issue a, issued, lost my password,
looked like, looks like, look like, feels like, felt like, seems like, like nothing, like a
"""

_TH_POSITIVE = """
ดี, ดีมาก, ดีเยี่ยม, ดีงาม, เยี่ยม, ยอดเยี่ยม, สุดยอด, เลิศ, ปัง, เริ่ด, เริด, ดีจัง, ดีสุด,
ชอบ, ชอบมาก, รัก, ถูกใจ, ประทับใจ, พอใจ, พึงพอใจ, ปลื้ม, แฮปปี้, ดีใจ, สบายใจ, หายห่วง,
เร็ว, รวดเร็ว, ไว, ทันใจ, ส่งไว, ส่งเร็ว, ตรงเวลา, ทันเวลา, สุภาพ, ใจดี, น่ารัก,
เป็นกันเอง, ใส่ใจ, เอาใจใส่, บริการดี, ช่วยเหลือดี, แนะนำเลย, ต้องลอง, คุ้ม,
คุ้มค่า, คุ้มราคา, ราคาดี, ถูกดี, ราคาถูก, สมราคา, ตรงปก, ตรงตามรูป, ตรงตามที่สั่ง, ของแท้,
คุณภาพดี, ของดี, ใช้ดี, ใช้งานได้ดี, ทนทาน, แข็งแรง, สวย, อร่อย, สด, หอม, นุ่ม, สะดวก,
ง่าย, ใช้ง่าย, สะอาด, เรียบร้อย, แพ็คดี, แพ็คมาดี, ขอบคุณ, ขอบใจ, แก้ไขให้เร็ว,
แก้ปัญหาได้ดี, จะกลับมาซื้ออีก, ซื้ออีกแน่นอน, อุดหนุนอีก, ซื้อซ้ำ, 5ดาว, ห้าดาว, เทพ,
ได้รับแล้ว, ชื่นชม, ขอชม, เป็นกำลังใจ, อธิบายละเอียด, ภูมิใจ, สนับสนุน, ดีต่อใจ, ใช้ดีมาก, ติดใจ,
ได้ของแล้ว, ถึงแล้ว, ทันใช้, ว้าว, โดนใจ, ถูกและดี, สมบูรณ์,
ประหยัด, จัดส่งไว, ตอบไว, ตอบเร็ว, ชัดเจน, มืออาชีพ, ช่วยได้มาก, ดีขึ้นมาก, แก้ไขแล้ว,
"""

_TH_NEGATIVE = """
แย่, ห่วย, เฮงซวย, ไม่ดี, ไม่โอเค, ไม่ไหว, ผิดหวัง, เสียใจ, ไม่พอใจ, ไม่ประทับใจ,
ไม่ชอบ, เซ็ง, หงุดหงิด, โมโห, โกรธ, รำคาญ, เบื่อ, เสียความรู้สึก, เสียเวลา, เสียเงิน,
เสียดายเงิน, ไม่คุ้ม, ช้า, ล่าช้า, ดีเลย์, นานมาก, รอนาน, ยังไม่ได้รับ, ไม่ได้รับ,
ยังไม่ได้ของ, ยังไม่มา, ยังไม่ถึง, ไม่ถึง, ของหาย, หาย, สูญหาย, ส่งผิด, ได้ของผิด, ผิดสี,
ผิดไซส์, ผิดรุ่น, ชำรุด, เสียหาย, แตก, หัก, ร้าว, บุบ, พัง, เสีย, ใช้ไม่ได้, เปิดไม่ติด,
ชาร์จไม่เข้า, ไม่ทำงาน, รั่ว, ขาด, เป็นรอย, ขึ้นรา, บูด, เน่า, หมดอายุ, เหม็น, ไม่อร่อย,
จืด, ไม่ตรงปก, ไม่ตรงตามรูป, ไม่เหมือนรูป, ของปลอม, ปลอม, โกง, หลอกลวง, หลอก, ไม่สุภาพ,
หยาบคาย, พูดจาไม่ดี, ไม่ใส่ใจ, ไม่สนใจ, ไม่รับสาย, ไม่ตอบ, อ่านไม่ตอบ, เงียบ, เงียบหาย,
วางสาย, ไม่ช่วย, ไม่แก้ไข, ไม่รับผิดชอบ, มักง่าย, แพง, เกินราคา, ไม่สมราคา, โดนชาร์จ,
ตัดเงินซ้ำ, ตัดเงินสองครั้ง, เก็บเงินซ้ำ, ตัดเงินเกิน, ค้าง, เด้ง, แครช, ล่ม,
เข้าไม่ได้, ล็อกอินไม่ได้, ล็อคอินไม่ได้, เออเร่อ, ปัญหา, ร้องเรียน, คืนเงิน, ขอเงินคืน,
ยกเลิก, ไม่ซื้ออีก, ไม่ซื้อแล้ว, เข็ด, เลิกซื้อ, ไม่แนะนำ, อย่าซื้อ, ระวัง, ยาก, ลำบาก,
วุ่นวาย, มั่ว, ไม่ได้เรื่อง, ไม่เอาไหน, กาก, ขยะ, แย่มาก, ช้ามาก, แพงมาก, แพงไป,
ทำไมยังไม่, เมื่อไหร่จะ, กี่วันแล้ว, รอมา, ตามหลายรอบ, โทรหลายครั้ง, ไม่มีใครรับ,
ผิดพลาด, ไม่ครบ, ขาดหาย, ไม่ถูกต้อง, ใช้งานไม่ได้, โหลดไม่ขึ้น, ไม่ขึ้น, จ่ายไม่ได้,
ชำระไม่ได้, ตัดเงินแล้ว, ไม่ได้ของ, เสียอารมณ์, น่าผิดหวัง, ไม่ไว้ใจ, ไม่น่าเชื่อถือ,
ไม่โอเคเลย, ห่วยมาก, เละ, ไม่มีคุณภาพ, คุณภาพต่ำ, คุณภาพแย่, ราคาแพง, ไม่ประทับใจเลย,
งง, งงมาก, ไม่แฟร์, เกรียน, กวนประสาท, ตีกลับ, ไม่มีใครตอบ, ไม่ผ่าน, ไม่ตรงกับที่แจ้ง,
ไม่มา, โวยวาย, ขู่, หลุด, เสียงดัง, ไม่ตรง, คับ, หลวม, ไม่สมกับ, แพงกว่า, ตัดสาย, รอสาย,
ทำไม, ไม่รู้เรื่อง, ถามอะไรก็ไม่รู้, ไม่เท่ากัน, ผิดนัด, เบี้ยวนัด, เท, ไม่แจ้ง, ไม่บอก,
ไม่คืบหน้า, เรื้อรัง, ซ้ำซาก, ไม่เหมือน, ตกใจ, เย็นชืด, หลงทาง, วนไปวนมา, ผื่น, คัน,
หาหมอ, เศษ, สิ่งแปลกปลอม, เป็นอีก, กลับมาเป็นอีก, ไม่หาย, ไม่หยุด, สแปม, รบกวน
"""

_TH_GUARDS = """
อยาก, อยากได้, อยากทราบ, อยากให้, เสียง, เสียงดี, แตกต่าง, ดีไซน์, ดีล, ดีเทล, โอเค, ใช้ได้,
ก็ใช้ได้, พอใช้ได้, เฉยๆ, ธรรมดา, งั้นๆ, ปานกลาง, หายดี, ดีขึ้น, ระวังภัย, สวัสดี,
ยากจะ, ไม่ยาก, ค้างชำระ, ยอดค้าง, ขาดทุน, เสียบ, สดชื่น, ดีกว่า, ไวไฟ, รักษา,
ประสงค์, ดีลเลอร์, เช็คแล้ว, ติดต่อกลับ, ไม่แน่ใจ, ไม่ทราบ, ไม่เป็นไร, ไว้, เสียค่า, เร็วๆนี้,
พอดี, ดีๆ, รบกวนขอ, รบกวนช่วย,
รบกวนสอบถาม,

"""

_VI_POSITIVE = """
tốt, rất tốt, tốt lắm, quá tốt, tuyệt, tuyệt vời, xuất sắc, đỉnh cao, ổn áp, xịn xò, hàng xịn,
xịn lắm, dùng ổn, khá ổn, rất ổn,
chất lượng tốt, hài lòng, rất hài lòng, ưng ý, ưng lắm, rất ưng, ưng quá, thích, rất thích,
thích lắm, thik, vui, hạnh phúc, ok lắm, oke lắm, ổn lắm, hàng đẹp, đẹp, đẹp lắm,
xinh, xinh xắn, ngon, ngon lắm, tươi, thơm, mềm, chắc chắn, nhanh, giao nhanh,
ship nhanh, nhanh chóng, đúng hẹn, đúng giờ, kịp thời, nhiệt tình, chu đáo, thân thiện,
lịch sự, dễ thương, tận tình, tận tâm, chuyên nghiệp, vui vẻ, đáng tiền, đáng mua, rẻ,
giá tốt, giá rẻ, giá hợp lý, hợp lý, phải chăng, rất hời, quá hời, đúng mô tả, giống hình,
giống mô tả,
như hình, chính hãng, hàng thật, đóng gói cẩn thận, gói kỹ, dễ dùng, dễ sử dụng,
tiện lợi, mượt, cảm ơn, cám ơn, thanks, tks, thank, sẽ ủng hộ, ủng hộ tiếp, sẽ quay lại,
sẽ mua lại, mua lần nữa, 5 sao, năm sao, 10 điểm, xử lý nhanh, hỗ trợ nhanh, ok, oke,
okela, oki, perfect, xứng đáng, an tâm, yên tâm, chuẩn, rất ok, quá ok, quá đẹp,
quá ngon, vừa vặn, vừa in, đủ hàng, nhận được hàng rồi, đã nhận được, giải quyết nhanh,
đã xử lý, hỗ trợ tốt, tư vấn nhiệt tình, tư vấn tốt, nhanh gọn, gọn gàng, sạch sẽ, ấm áp,
đáng đồng tiền, đáng giá, mua thêm, ủng hộ shop, 10 điểm không có nhưng, khen
"""

_VI_NEGATIVE = """
tệ, rất tệ, quá tệ, tệ hại, tồi tệ, quá tồi, quá kém, kém quá, rất kém, kém chất lượng,
chất lượng kém,
chán, thất vọng, bực, bực mình, bực bội, khó chịu, tức, tức giận, bức xúc,
không hài lòng, chưa hài lòng, ko hài lòng, k hài lòng, không ưng, không thích, chậm,
chậm quá, giao chậm, ship chậm, lâu quá, quá lâu, chờ lâu, đợi lâu, trễ, giao trễ,
chưa nhận được, chưa nhận, không nhận được, ko nhận được, k nhận được, chưa nhận dc,
ko nhận dc, chưa thấy hàng, mất hàng, thất lạc, giao sai, sai hàng, sai màu, sai size,
thiếu hàng, thiếu, bị hỏng, hư, bị hư, hư hỏng, bị lỗi, hàng lỗi, bị vỡ,
móp méo, rách, trầy, xước, trầy xước, không hoạt động, không chạy, không lên nguồn,
không dùng được, ko dùng dc, hết hạn, thiu, không giống hình, không giống mô tả,
khác hình, hàng giả, hàng nhái, lừa đảo, thái độ kém, thái độ tệ, hỗn láo, hách dịch,
cọc cằn, không nghe máy, không trả lời, không phản hồi, chưa phản hồi, im lặng, không rep,
ko rep, đắt quá, quá đắt, mắc quá, giá cao, trừ tiền hai lần, trừ tiền 2 lần,
văng app, treo, lag, không đăng nhập được, không vào được,
lỗi app, báo lỗi, khiếu nại, phàn nàn, hoàn tiền, trả hàng, hủy đơn, không mua nữa,
không quay lại, đừng mua, không nên mua, phí tiền, có vấn đề, phiền, phiền phức,
rắc rối, khó dùng, khó sử dụng, cẩu thả, vẫn chưa, mãi chưa, mãi không, quá tệ luôn,
như cái, vô trách nhiệm, vô lý, coi thường, lừa dối, không chuyên nghiệp, thiếu chuyên nghiệp,
không đúng, sai, nhầm, bị nhầm, thất bại, không thanh toán được, không được, ko được,
chả ra gì, không ra gì, ức chế, quá chán, nguy hiểm, bốc khói, bị chập, bị cháy,
không ai, ko ai, chờ mãi, đợi mãi, gọi mãi, nhắn mãi, mấy lần rồi, bao giờ mới, sao vẫn,
kém cỏi, kiểu gì, làm ăn kiểu gì, tào lao, xạo, quá đáng, không chấp nhận được,
rò rỉ, bị rò, rỉ nước, chảy nước, mệt ghê, mệt mỏi, mệt quá, ồn ào, ồn quá, kêu to,
chưa ai rep, chưa ai trả lời,
không ai trả lời, bắt chờ, phải chờ, không bấm được, không áp dụng được, không đủ điều kiện,
chỉ nhận được, dở tệ, dở ẹc, dở quá, quá dở, hỏng rồi, hỏng hóc, đã hỏng, hỏng luôn, bị lỗi,
lỗi rồi, lỗi hoài,
sản phẩm lỗi, máy lỗi, lỗi kỹ thuật, vỡ nát, vỡ màn hình, mùi hôi, hôi quá, bị lừa, đắt quá,
giá đắt, đắt hơn, hơi đắt, đắt vậy, đắt thế, hơi mắc, mắc vậy, lâu vậy, lâu thế, lâu lắm,
rất lâu, giao lâu, ship lâu, lâu ơi là lâu, hủy đơn, huỷ đơn, muốn hủy, nản quá, pin yếu,
yếu quá, bị đơ, đơ máy, văng ra, bị văng, bị trừ tiền, trừ tiền 2 lần, trừ tiền hai lần
"""

_VI_GUARDS = """
chăm sóc, chăm sóc khách hàng, chấm điểm, tạm được, tạm, bình thường, cũng được, ổn định,
không sao, không vấn đề gì, hết lỗi, đã sửa, lâu dài, tốt nghiệp, ưng thuận, lỗi gì, hỏng gì,
hủy đăng ký, lâu năm, vấn đề gì, sai sót gì, có lỗi gì, nhanh lên, làm ăn uy tín,
hơi chậm, không lâu, không trễ, cho hỏi, xin hỏi, đỉnh núi, thiếu gì, không thiếu, sai đâu,
tiếp tục, thủ tục, liên tục, kem chống nắng, kem dưỡng, kem nền, kem đánh răng, kem tươi,
ăn kem, trả lời, bao lâu, bao giờ, tiền, bên, màu hồng, điện thoại, ứng dụng, đặt hàng,
đặt, mặc, chăm chỉ, thực tế, y tế, kinh tế, quốc tế, tế nhị, tôi
"""

NEGATORS: Final = {
    "en": _terms(
        "not, no, never, cannot, can't, cant, didn't, didnt, don't, dont, doesn't, doesnt, "
        "isn't, isnt, wasn't, wasnt, weren't, won't, wont, haven't, hasn't, hardly, barely, "
        "nothing, neither, nor, without"
    ),
    "vi": _terms("không, ko, k, hok, chưa, chẳng, chả, đâu có, không hề, chưa hề"),
    "th": _terms("ไม่, ไม่ค่อย, ยังไม่, ไม่ได้, ไม่เคย, ไม่มี, ไม่ใช่, มิ"),
}
"""A negator flips the next sentiment term within a few characters ("not bad", "không tệ")."""

CONTRASTS: Final = {
    "en": _terms("but, however, though, although, except, yet, unfortunately"),
    "vi": _terms("nhưng, nhưng mà, tuy nhiên, có điều, mỗi tội, tiếc là"),
    "th": _terms("แต่, แต่ว่า, ทว่า, อย่างไรก็ตาม, เสียดายที่, เสียดายแต่"),
}
"""Terms after which the customer's point usually comes ("good product but slow delivery")."""


def _polarities(positive: str, negative: str, guards: str) -> Mapping[str, int]:
    found: dict[str, int] = {}
    for term in _terms(negative):
        found[term] = -1
    for term in _terms(positive):
        found.setdefault(term, 1)
    for term in _terms(guards):
        found[term] = 0
    return MappingProxyType(found)


SENTIMENT: Final[Mapping[str, Mapping[str, int]]] = MappingProxyType(
    {
        "en": _polarities(_EN_POSITIVE, _EN_NEGATIVE, _EN_GUARDS),
        "th": _polarities(_TH_POSITIVE, _TH_NEGATIVE, _TH_GUARDS),
        "vi": _polarities(_VI_POSITIVE, _VI_NEGATIVE, _VI_GUARDS),
        "*": MappingProxyType(
            {
                **dict.fromkeys(
                    _terms("😍, 👍, ❤️, ♥️, 🥰, 😊, 😄, 😁, 💯, ⭐, 🌟, 🙏, 💕, 🤩, 👌"), 1
                ),
                **dict.fromkeys(
                    _terms("😡, 😠, 🤬, 😤, 😞, 😢, 😭, 👎, 🙄, 💔, 😒, 😩, 😫, 🤮, 😑"), -1
                ),
            }
        ),
    }
)
"""Per language (``*``: every language, emoji): term -> polarity (+1, -1; 0 guards a longer
term)."""

# --- topics ----------------------------------------------------------------------------------

TOPICS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "delivery": """
delivery, deliver, delivered, shipping, shipped, shipment, ship, parcel, package, courier,
tracking, tracking number, arrive, arrived, arrival, dispatch, dispatched, rider, driver,
postman, kerry, flash express, j&t, grab, lalamove, ninja van, thailand post, ghn, ghtk,
viettel post, vnpost, doorstep, left at, pick up, pickup, out for delivery, in transit,
ส่ง, จัดส่ง, ส่งของ, ขนส่ง, พัสดุ, คนส่ง, ไรเดอร์, เลขพัสดุ, แทร็ก, ติดตามพัสดุ, ของมาถึง,
ได้รับของ, ได้ของ, ยังไม่ได้ของ, สั่งไว้, ยังไม่ได้รับ, ไม่ได้รับ, ของยังไม่มา, ส่งช้า, ส่งไว,
ส่งเร็ว, ส่งผิด, ของหาย, กล่อง,
ไปรษณีย์, เคอรี่, แฟลช, ค่าส่ง,
giao, giao hàng, ship, shipper, vận chuyển, đơn vị vận chuyển, nhận hàng, nhận được hàng,
chưa nhận, nhận dc, ko nhận, k nhận, kiện hàng, bưu kiện, bưu điện, mã vận đơn, đơn hàng đang,
giao trễ, giao chậm,
giao nhanh, ship nhanh, ship chậm, phí ship, thất lạc, mất hàng, giao sai, giao nhầm
""",
        "product_quality": """
quality, broken, damaged, defective, faulty, cracked, dented, torn, leaking, scratched,
stained, doesn't work, not working, stopped working, won't turn on, battery, screen, size,
fit, fits, too small, too big, material, fabric, taste, tasted, smell, smells, expired, fake,
counterfeit, genuine, authentic, not as described, as described, product, item, wrong item,
wrong size, wrong colour, wrong color, stitching, zipper, colour faded, color faded, spoiled,
stale, durable, sturdy, flimsy, works perfectly, works great,
คุณภาพ, สินค้า, ชำรุด, เสียหาย, แตก, หัก, ร้าว, บุบ, พัง, ใช้ไม่ได้, เปิดไม่ติด,
ชาร์จไม่เข้า, แบต, จอ, ไซส์, ขนาด, ผ้า, เนื้อผ้า, รสชาติ, อร่อย, หมดอายุ, ของปลอม, ของแท้,
ไม่ตรงปก, ตรงตามรูป, เป็นรอย, รั่ว, ขาด, สี, ผิดสี, ผิดไซส์, ใส่ไม่ได้, คับ, หลวม,
กลิ่น, ทนทาน, ใช้งาน,
chất lượng, sản phẩm, sp, hỏng, bị hỏng, hư, lỗi, bị lỗi, vỡ, móp, méo, rách, trầy,
xước, không hoạt động, không lên nguồn, pin, màn hình, size, kích thước, chật, rộng, vải,
chất vải, mùi, vị, hết hạn, hàng giả, hàng nhái, chính hãng, giống hình, không giống hình,
đúng mô tả, sai màu, sai size, phai màu, đường may, bền, dùng, rò rỉ, bị rò, đổi máy,
đổi sản phẩm, đổi hàng, máy
""",
        "billing": """
bill, billing, billed, invoice, receipt, charge, charged, charged twice, double charged,
overcharged, payment, pay, paid, card, credit card, debit, transaction, refund, refunded,
refund status, money back, deducted, statement, tax invoice, vat, installment, instalment,
cod, cash on delivery, promptpay, transfer, bank, wallet, e-wallet,
บิล, ใบแจ้งหนี้, ใบเสร็จ, ใบกำกับภาษี, ชำระ, ชำระเงิน, จ่าย, จ่ายเงิน, โอน, โอนเงิน, บัตร,
บัตรเครดิต, ตัดเงิน, ตัดบัตร, เก็บเงิน, คืนเงิน, เงินคืน, ยอดเงิน, ค่าบริการ, หักเงิน,
พร้อมเพย์, ผ่อน, ค้างชำระ, ยอด,
hóa đơn, hoá đơn, thanh toán, trả tiền, chuyển khoản, thẻ, trừ tiền, bị trừ tiền, hoàn tiền,
tiền hoàn, vat, hóa đơn đỏ, hóa đơn vat, số tiền, ví, ví điện tử, momo, zalopay, vnpay,
trả góp, cod, phí, khấu trừ, sao kê
""",
        "service": """
staff, employee, agent, call centre, call center, hotline, customer service, support,
helpdesk, help desk, representative, rep, manager, cashier, salesperson, sales staff,
rude, polite, friendly, helpful, unhelpful, attitude, ignored, no response, no reply,
nobody answered, hung up, on hold, waited, waiting for a reply, response, reply, answer,
answered, service, served, consultant, technician, store staff, shop staff, follow up,
พนักงาน, คอลเซ็นเตอร์, เจ้าหน้าที่, แอดมิน, บริการ, ผู้จัดการ, แคชเชียร์, พนักงานขาย,
สุภาพ, หยาบคาย, พูดจา, มารยาท, ไม่รับสาย, ไม่ตอบ, อ่านไม่ตอบ, ตอบแชท, ตอบไว, ตอบช้า,
ดูแล, ช่วยเหลือ, ให้คำแนะนำ, วางสาย, ช่าง, ติดต่อ, โทร,
nhân viên, nv, tổng đài, hotline, chăm sóc khách hàng, cskh, tư vấn, hỗ trợ, thái độ,
phục vụ, quản lý, thu ngân, ad, admin, shop trả lời, không trả lời, không nghe máy,
phản hồi, rep, nhiệt tình, lịch sự, thân thiện, kỹ thuật viên, bảo hành, liên hệ, gọi
""",
        "website_app": """
app, application, website, site, web, online, login, log in, sign in, password, otp,
account, checkout, check out, cart, page, button, crash, crashes, crashed, crashing, bug,
glitch, error, loading, load, slow site, update, version, install, notification, link,
interface, ui, android, iphone, ios, browser,
แอพ, แอป, เว็บ, เว็บไซต์, ออนไลน์, ล็อกอิน, ล็อคอิน, เข้าสู่ระบบ, รหัสผ่าน, otp, บัญชี,
ตะกร้า, หน้าเว็บ, ปุ่ม, แครช, เด้ง, ค้าง, ล่ม, โหลด, อัปเดต, อัพเดท, ลิงก์, ระบบ,
ứng dụng, app, website, web, trang web, đăng nhập, mật khẩu, otp, tài khoản, giỏ hàng,
thanh toán online, văng, văng app, treo, đơ, lag, lỗi app, cập nhật, tải, load, nút,
giao diện, hệ thống
""",
        "price": """
price, prices, pricing, expensive, overpriced, pricey, cheap, cheaper, affordable, cost,
costs, value, value for money, worth, worth it, not worth, discount, coupon, voucher, promo,
promotion, promo code, sale, deal, offer, price match, price increase, raised the price,
more expensive, cheaper elsewhere, bargain,
ราคา, แพง, ถูก, คุ้ม, คุ้มค่า, ไม่คุ้ม, ส่วนลด, คูปอง, โค้ด, โปร, โปรโมชั่น, ลดราคา,
เซล, ขึ้นราคา, ถูกกว่า, แพงกว่า, สมราคา,
giá, giá cả, đắt, mắc, rẻ, hợp lý, đáng tiền, không đáng, giảm giá, khuyến mãi, voucher,
mã giảm giá, mã, sale, ưu đãi, tăng giá, rẻ hơn, đắt hơn, chỗ khác rẻ hơn
""",
    }
)
"""Topic -> its terms (any language, comma-separated). The topic with most hits wins; none:
``other``. Configuration can add topics and terms (``c360.analysis.AnalysisConfig``)."""

TOPIC_TERMS: Final[Mapping[str, list[str]]] = MappingProxyType(
    {topic: _terms(text) for topic, text in TOPICS.items()}
)

# --- urgency cues ----------------------------------------------------------------------------

CUES: Final[Mapping[str, list[str]]] = MappingProxyType(
    {
        "refund": _terms(
            """
refund, money back, my money, reimburse, reimbursement, chargeback, return my money,
คืนเงิน, ขอเงินคืน, เงินคืน, โอนเงินคืน, คืนเงินด้วย,
hoàn tiền, trả lại tiền, trả tiền lại, hoàn lại tiền, đòi tiền, lấy lại tiền
"""
        ),
        "cancel": _terms(
            """
cancel, cancelled, canceled, cancellation, terminate, close my account, unsubscribe me,
switching to, switch to another, leaving you,
ยกเลิก, ขอยกเลิก, ปิดบัญชี, เลิกใช้, ย้ายไป,
hủy đơn, huỷ đơn, hủy hợp đồng, muốn hủy, xin hủy, cho hủy, yêu cầu hủy, hủy dịch vụ,
hủy gói, hủy ngay, khóa tài khoản, xóa tài khoản, bỏ luôn, không dùng nữa
"""
        ),
        "legal": _terms(
            """
lawyer, attorney, legal action, sue, suing, lawsuit, court, consumer protection, ocpb,
police, report you, regulator, small claims,
ทนาย, ฟ้อง, ฟ้องร้อง, ดำเนินคดี, แจ้งความ, ตำรวจ, สคบ, ศาล, กฎหมาย, ร้องเรียนสคบ,
luật sư, khởi kiện, sẽ kiện, đi kiện, kiện ra tòa, ra tòa, tòa án, toà án, công an, báo công an,
hội bảo vệ người tiêu dùng,
cơ quan chức năng, pháp luật
"""
        ),
        "safety": _terms(
            """
fire, caught fire, smoke, smoking, burn, burned, burnt, explode, exploded, explosion, shock,
electric shock, sparks, sparking, overheat, overheating, injured, injury, hurt, hospital,
food poisoning, allergic, allergy, poison, poisoned, choking, sick after, dangerous, unsafe,
ไฟไหม้, ไฟช็อต, ไฟดูด, ควัน, ระเบิด, ร้อนจัด, บาดเจ็บ, แผล, โรงพยาบาล, อาหารเป็นพิษ,
แพ้, ท้องเสีย, อันตราย, ลุกไหม้, ช็อต, ผื่น, หาหมอ, เศษพลาสติก, เศษแก้ว, สิ่งแปลกปลอม,
bị cháy, bốc cháy, cháy nổ, cháy khét, bốc khói, ra khói, có khói, phát nổ, bị nổ, nổ tung,
điện giật, giật điện, chập điện, bị chập, nóng ran, bị bỏng, bị thương, bệnh viện, ngộ độc,
dị ứng, đau bụng, nguy hiểm, tiêu chảy
"""
        ),
        "anger": _terms(
            """
third time, 3rd time, fourth time, again and again, how many times, fed up, sick of,
furious, outraged, unacceptable, ridiculous, disgusting, worst ever, never again,
ครั้งที่ 3, ครั้งที่สาม, หลายรอบแล้ว, หลายครั้งแล้ว, กี่รอบแล้ว, โมโห, โกรธมาก, ทนไม่ไหว,
เหลือทน, ไม่ไหวแล้ว,
lần thứ 3, lần thứ ba, lần thứ 4, mấy lần rồi, bao nhiêu lần, quá đáng, bức xúc, phát điên,
không chấp nhận được, hết chịu nổi, chịu hết nổi, ức chế
"""
        ),
    }
)
"""Urgency cue -> its terms. ``anger`` is also raised by shouting (mostly capitals) and runs
of exclamation marks (``c360.analysis.text``)."""
