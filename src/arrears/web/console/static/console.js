// The wrap-up note is checked by the lexicon as it is typed (the server decides on save too).
(function () {
  const note = document.querySelector("textarea[data-lint]");
  if (!note) return;
  const out = document.getElementById("lint");
  const save = note.form.querySelector("button[type=submit]");
  const csrf = note.form.querySelector("input[name=csrf]").value;
  let timer = null;
  note.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(async function () {
      const body = new URLSearchParams({ text: note.value, csrf: csrf });
      const r = await fetch(note.dataset.lint, { method: "POST", body: body });
      if (!r.ok) return;
      const found = await r.json();
      out.textContent = found.message;
      out.classList.toggle("bad", found.hits.length > 0);
      save.disabled = found.hits.length > 0;
    }, 250);
  });
})();
