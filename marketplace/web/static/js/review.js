// The reviewer console. Until the queue, side-by-side view and decisions are built on the reviews API,
// the page shows how many disputes are waiting and says plainly that the console is not there yet.
import { get, h } from "./api.js";

async function probe() {
  const root = document.getElementById("review-root");
  try {
    const disputes = await get("/api/reviews/disputes");
    root.prepend(h("p", { class: "notice" }, `${disputes.length} dispute(s) in the queue.`));
  } catch {
    // the reviews API is not answering: keep the placeholder alone
  }
}

probe();
