// Home: profiles, new profiles and events per day, sources with freshness and errors, the
// largest segments, journey conversion against control, and feedback by sentiment.
import { api } from "../core/api.js";
import { barChart } from "../core/charts.js";
import { h, table } from "../core/dom.js";
import { ago, date, number, percent, t } from "../core/i18n.js";

export const needs = [];

export const messages = {
  en: {
    "dash.title": "Home",
    "dash.profiles": "Customer profiles",
    "dash.new": "New profiles, last {days} days",
    "dash.events": "Events, last {days} days",
    "dash.events.chart": "Events per day",
    "dash.new.chart": "New profiles per day",
    "dash.sources": "Sources",
    "dash.source": "Source",
    "dash.fresh": "Last received",
    "dash.count": "Events",
    "dash.quarantined": "Quarantined",
    "dash.stale": "nothing in {days} days",
    "dash.segments": "Largest segments",
    "dash.segment": "Segment",
    "dash.members": "Members",
    "dash.journeys": "Journey conversion",
    "dash.journey": "Journey",
    "dash.treatment": "Treatment",
    "dash.control": "Control",
    "dash.uplift": "Uplift",
    "dash.feedback": "Feedback by sentiment, last {days} days",
    "sentiment.positive": "Positive",
    "sentiment.neutral": "Neutral",
    "sentiment.negative": "Negative",
    "sentiment.mixed": "Mixed",
  },
  th: {
    "dash.title": "หน้าแรก",
    "dash.profiles": "โปรไฟล์ลูกค้า",
    "dash.new": "โปรไฟล์ใหม่ {days} วันที่ผ่านมา",
    "dash.events": "เหตุการณ์ {days} วันที่ผ่านมา",
    "dash.events.chart": "เหตุการณ์ต่อวัน",
    "dash.new.chart": "โปรไฟล์ใหม่ต่อวัน",
    "dash.sources": "แหล่งข้อมูล",
    "dash.source": "แหล่งข้อมูล",
    "dash.fresh": "ได้รับล่าสุด",
    "dash.count": "เหตุการณ์",
    "dash.quarantined": "ถูกกักไว้",
    "dash.stale": "ไม่มีข้อมูลใน {days} วัน",
    "dash.segments": "กลุ่มลูกค้าที่ใหญ่ที่สุด",
    "dash.segment": "กลุ่มลูกค้า",
    "dash.members": "สมาชิก",
    "dash.journeys": "อัตราการเปลี่ยนของเส้นทางลูกค้า",
    "dash.journey": "เส้นทางลูกค้า",
    "dash.treatment": "กลุ่มทดลอง",
    "dash.control": "กลุ่มควบคุม",
    "dash.uplift": "ส่วนเพิ่ม",
    "dash.feedback": "ความคิดเห็นตามความรู้สึก {days} วันที่ผ่านมา",
    "sentiment.positive": "เชิงบวก",
    "sentiment.neutral": "เป็นกลาง",
    "sentiment.negative": "เชิงลบ",
    "sentiment.mixed": "ผสม",
  },
  vi: {
    "dash.title": "Trang chủ",
    "dash.profiles": "Hồ sơ khách hàng",
    "dash.new": "Hồ sơ mới, {days} ngày qua",
    "dash.events": "Sự kiện, {days} ngày qua",
    "dash.events.chart": "Sự kiện mỗi ngày",
    "dash.new.chart": "Hồ sơ mới mỗi ngày",
    "dash.sources": "Nguồn dữ liệu",
    "dash.source": "Nguồn",
    "dash.fresh": "Nhận gần nhất",
    "dash.count": "Sự kiện",
    "dash.quarantined": "Bị cách ly",
    "dash.stale": "không có gì trong {days} ngày",
    "dash.segments": "Phân khúc lớn nhất",
    "dash.segment": "Phân khúc",
    "dash.members": "Thành viên",
    "dash.journeys": "Tỷ lệ chuyển đổi của hành trình",
    "dash.journey": "Hành trình",
    "dash.treatment": "Nhóm can thiệp",
    "dash.control": "Nhóm đối chứng",
    "dash.uplift": "Mức tăng",
    "dash.feedback": "Phản hồi theo cảm xúc, {days} ngày qua",
    "sentiment.positive": "Tích cực",
    "sentiment.neutral": "Trung lập",
    "sentiment.negative": "Tiêu cực",
    "sentiment.mixed": "Lẫn lộn",
  },
};

const sum = (days) => days.reduce((n, d) => n + d.count, 0);
const shortDay = (day) => date(`${day}T12:00:00`, { day: "numeric", month: "short" });
const rate = (value) => (value === null || value === undefined ? "–" : percent(value));

export async function render(view) {
  const board = await api("/api/dashboard", { query: { days: 30 } });
  const days = board.days;
  view.append(
    h("h1", {}, t("dash.title")),
    h(
      "div",
      { class: "grid" },
      h("section", { class: "card", "data-stat": "profiles" }, h("h2", {}, t("dash.profiles")), h("div", { class: "stat" }, number(board.profiles))),
      h("section", { class: "card", "data-stat": "new" }, h("h2", {}, t("dash.new", { days })), h("div", { class: "stat" }, number(sum(board.new_profiles)))),
      h("section", { class: "card", "data-stat": "events" }, h("h2", {}, t("dash.events", { days })), h("div", { class: "stat" }, number(sum(board.events_per_day)))),
    ),
    h(
      "div",
      { class: "grid wide", style: "margin-top:1rem" },
      h(
        "section",
        { class: "card" },
        h("h2", {}, t("dash.events.chart")),
        barChart({ title: t("dash.events.chart"), labels: board.events_per_day.map((d) => shortDay(d.day)), series: [{ name: t("dash.count"), values: board.events_per_day.map((d) => d.count) }] }),
      ),
      h(
        "section",
        { class: "card" },
        h("h2", {}, t("dash.new.chart")),
        barChart({ title: t("dash.new.chart"), labels: board.new_profiles.map((d) => shortDay(d.day)), series: [{ name: t("dash.profiles"), values: board.new_profiles.map((d) => d.count) }] }),
      ),
      board.sources &&
        h(
          "section",
          { class: "card", id: "sources" },
          h("h2", {}, t("dash.sources")),
          table(
            [
              { label: t("dash.source"), value: (s) => s.name },
              { label: t("dash.fresh"), value: (s) => (s.last_received_at ? ago(s.last_received_at) : h("span", { class: "warn" }, t("dash.stale", { days }))) },
              { label: t("dash.count"), value: (s) => number(s.events), num: true },
              { label: t("dash.quarantined"), value: (s) => h("span", { class: s.quarantined ? "bad" : null }, number(s.quarantined)), num: true },
            ],
            board.sources,
            { caption: t("dash.sources"), empty: t("common.none") },
          ),
        ),
      board.top_segments &&
        h(
          "section",
          { class: "card", id: "segments" },
          h("h2", {}, t("dash.segments")),
          table(
            [
              { label: t("dash.segment"), value: (s) => h("a", { href: `#/segments/${encodeURIComponent(s.name)}` }, s.name) },
              { label: t("dash.members"), value: (s) => number(s.members), num: true },
            ],
            board.top_segments,
            { caption: t("dash.segments"), empty: t("common.none") },
          ),
        ),
      board.journeys &&
        h(
          "section",
          { class: "card", id: "journeys" },
          h("h2", {}, t("dash.journeys")),
          table(
            [
              { label: t("dash.journey"), value: (j) => h("a", { href: `#/journeys/${encodeURIComponent(j.name)}` }, j.name) },
              { label: t("dash.treatment"), value: (j) => rate(j.treatment_rate), num: true },
              { label: t("dash.control"), value: (j) => rate(j.control_rate), num: true },
              { label: t("dash.uplift"), value: (j) => rate(j.uplift), num: true },
            ],
            board.journeys,
            { caption: t("dash.journeys"), empty: t("common.none") },
          ),
        ),
      board.feedback_by_sentiment &&
        h(
          "section",
          { class: "card", id: "feedback" },
          h("h2", {}, t("dash.feedback", { days })),
          barChart({
            title: t("dash.feedback", { days }),
            labels: Object.keys(board.feedback_by_sentiment).map((s) => t(`sentiment.${s}`)),
            series: [{ name: t("nav.feedback"), values: Object.values(board.feedback_by_sentiment) }],
            empty: t("common.none"),
          }),
        ),
    ),
  );
}
