// 转人工 pages that update without a reload: the queue fetches its rows again, a conversation
// its transcript, every data-refresh-ms milliseconds. A file rather than inline scripts, so that
// the Content-Security-Policy can refuse every inline script.
(function () {
  async function fragment(url) {
    const answer = await fetch(url, {credentials: "same-origin", headers: {"Accept": "text/html"}});
    return answer.ok && answer.url.indexOf("/login") < 0 ? answer.text() : null;  // logged out: keep what is shown
  }

  function every(element, refresh) {
    setInterval(function () {
      refresh().catch(function () { /* the next beat tries again */ });
    }, Number(element.dataset.refreshMs));
  }

  const rows = document.getElementById("handoff-rows");
  if (rows) {
    const count = document.getElementById("handoff-count");
    every(rows, async function () {
      const html = await fragment(rows.dataset.src);
      if (html === null) { return; }
      rows.innerHTML = html;
      const n = rows.querySelectorAll("tr[data-handoff]").length;
      count.textContent = n;
      document.title = (n ? "(" + n + ") " : "") + "转人工 · 社区小助手";
    });
  }

  const transcript = document.getElementById("transcript");
  if (transcript) {
    transcript.scrollTop = transcript.scrollHeight;
    every(transcript, async function () {
      const html = await fragment(transcript.dataset.src);
      if (html === null) { return; }
      const atEnd = transcript.scrollTop + transcript.clientHeight >= transcript.scrollHeight - 10;
      transcript.innerHTML = html;
      if (atEnd) { transcript.scrollTop = transcript.scrollHeight; }
    });
  }
})();
