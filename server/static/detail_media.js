// Photos, audio and documents in the chief's map incident detail (issue 13, item 6).
// map.js opens the #detail dialog and then sends "ronda:incident" with the incident's JSON
// (/web/data/incident/<id>); its "media" member (server/web/detail_media.py) says per
// attachment what this role gets. Files come from /v1/attachments/... with the session
// cookie; that endpoint applies the scope and role rules again and audits every view. Audio
// is not fetched until played (preload="none"), so opening a detail audits only the photos
// shown.
"use strict";
(function () {
  const el = (tag, props, ...children) => {
    const node = Object.assign(document.createElement(tag), props || {});
    node.append(...children.filter((c) => c !== null && c !== undefined));
    return node;
  };

  function title(item, t, n) {
    const name = `${t[item.kind] || t.document} ${n}`;
    return item.captured ? `${name}, ${t.captured} ${item.captured}` : name;
  }

  function entry(item, t, n) {
    const label = title(item, t, n);
    const li = el("li", { className: "media-item" });
    li.dataset.sha256 = item.sha256;
    li.dataset.state = item.state;
    li.style.margin = "0 0 .6rem";
    if (item.state !== "ok") {
      li.append(el("span", { textContent: `${label}: ` }), el("strong", { textContent: t[item.state] || item.state }));
      return li;
    }
    if (item.kind === "photo" && item.thumbnail) {
      const img = el("img", { src: item.thumbnail, alt: label, loading: "lazy", decoding: "async" });
      img.style.maxWidth = "100%";
      img.style.height = "auto";
      img.style.display = "block";
      const link = el("a", { href: item.url, target: "_blank", rel: "noopener", className: "media-full" }, img);
      li.append(link, el("a", { href: item.url, target: "_blank", rel: "noopener", textContent: t.open_full }));
    } else if (item.kind === "audio") {
      const player = el("audio", { controls: true, preload: "none", src: item.url }, el("span", { textContent: t.no_player }));
      player.setAttribute("aria-label", label);
      player.style.width = "100%";
      li.append(el("span", { textContent: label }), player);
    } else {
      li.append(el("a", { href: item.url, target: "_blank", rel: "noopener", textContent: `${label}: ${t.open_file}` }));
    }
    return li;
  }

  function show(d) {
    const media = d && d.media;
    const body = document.getElementById("detail-body");
    if (!media || !media.items || !media.items.length || !body) return;
    const t = media.text;
    const counts = {};
    const list = el("ul", { className: "media-list" });
    list.style.listStyle = "none";
    list.style.padding = "0";
    for (const item of media.items) {
      counts[item.kind] = (counts[item.kind] || 0) + 1;
      list.append(entry(item, t, counts[item.kind]));
    }
    const section = el("section", { id: "detail-media" },
      el("h3", { id: "detail-media-title", textContent: t.heading }), list,
      el("p", { className: "note", textContent: t.views_audited }));
    section.setAttribute("aria-labelledby", "detail-media-title");
    section.querySelector("h3").style.fontSize = "1em";
    body.append(section);
  }

  document.addEventListener("ronda:incident", (e) => show(e.detail));
})();
