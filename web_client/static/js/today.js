// The operator's own figures for today.
import { get } from "./api.js";
import { duration, setText } from "./dom.js";

export async function refreshToday() {
  try {
    const t = await get("/api/v1/me/today");
    setText("t-offers", t.offers);
    setText("t-answered", t.answered);
    setText("t-not-answered", t.not_answered);
    setText("t-talk", duration(t.talk_s));
    setText("t-avg-talk", duration(t.avg_talk_s));
    setText("t-avg-answer", t.avg_answer_s === null ? null : `${t.avg_answer_s} s`);
    setText("t-ready", duration(t.ready_s));
    setText("t-not-ready", duration(t.not_ready_s));
  } catch (err) {
    console.warn("today's figures", err);
  }
}
