/* The pages' only script (inlined by podcast.site; no framework, no external URL).
   - No player fetches audio before the listener presses play: every <audio> keeps
     preload="none" (a page view is no download; SPEC, counting rules).
   - Chapters and transcript lines seek the player (which starts loading only then); the
     current one is highlighted as it plays.
   - A share code (?via=CODE) on the page rides along on the audio requests and the download
     link only: nothing is stored in the browser, no cookie.
   - The feed URL and the episode page's link can be copied with one button, and the link
     to the moment being heard (page.html#t=SECONDS) with another.
   - The transcript can be searched (lines without every word typed are hidden; Enter
     seeks to the first line left), and page.html#t=SECONDS (or #t=M:SS) is a link to a
     moment: opened, it sets the player's start there and shows the line, loading nothing;
     followed on the page (a cue's # link), it plays from there.
   Without JavaScript the pages still work: the player plays, the lists are readable. */
(function () {
  "use strict";

  // The share codes `podcast share` makes; anything else is ignored.
  var VIA = /^[a-z0-9][a-z0-9-]{0,39}$/;

  function withVia(url, via) {
    return url + (url.indexOf("?") < 0 ? "?" : "&") + "via=" + via;
  }

  function shareCode() {
    var via = new URLSearchParams(window.location.search).get("via");
    return via !== null && VIA.test(via) ? via : null;
  }

  // Put the share code on every player's URL and on the download links.  The players stay
  // preload="none": changing the src of such a player fetches nothing, so the first audio
  // request, when the listener presses play, already carries the code.
  function passShareCode(via) {
    document.querySelectorAll("audio[src]").forEach(function (audio) {
      audio.src = withVia(audio.getAttribute("src"), via);
    });
    document.querySelectorAll("a[data-media]").forEach(function (link) {
      link.href = withVia(link.getAttribute("href"), via);
    });
  }

  function start(item) {
    return parseFloat(item.getAttribute("data-start"));
  }

  // Each list (chapters, transcript) highlights the last item that has started.
  function follow(audio, lists) {
    var now = audio.currentTime;
    lists.forEach(function (list) {
      var current = null;
      list.querySelectorAll("[data-start]").forEach(function (item) {
        if (start(item) <= now + 0.05 && (!current || start(item) >= start(current))) {
          current = item;
        }
      });
      list.querySelectorAll("[aria-current]").forEach(function (item) {
        if (item !== current) item.removeAttribute("aria-current");
      });
      if (current && !current.hasAttribute("aria-current")) {
        current.setAttribute("aria-current", "true");
        if (!audio.paused) keepInView(list, current);
      }
    });
  }

  // Scroll a scrollable list (the transcript box), never the page the listener is reading.
  function keepInView(list, item) {
    if (list.scrollHeight <= list.clientHeight) return;
    var top = item.offsetTop - list.offsetTop;
    if (top < list.scrollTop || top + item.offsetHeight > list.scrollTop + list.clientHeight) {
      list.scrollTop = Math.max(0, top - list.clientHeight / 3);
    }
  }

  // A seek is a press of play: before anything is loaded the browser keeps the time as the
  // start position, and play() starts the (first) audio request.
  function seek(audio, seconds) {
    audio.currentTime = seconds;
    // A refused play (e.g. the browser's autoplay policy) leaves the player paused at the
    // right place, which is all a click promised; there is nothing to report.
    var playing = audio.play();
    if (playing && playing.catch) playing.catch(function () {});
  }

  // Case and accents ignored: "ecoutez" finds "Écoutez".
  function fold(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  function searchTranscript(box, audio) {
    var input = box.querySelector("[data-search-input]");
    var status = box.querySelector("[data-search-status]");
    var lines = Array.prototype.slice.call(document.querySelectorAll(".transcript [data-start]"));
    var texts = lines.map(function (line) { return fold(line.textContent); });
    box.hidden = false;
    // Each line gets a link to its moment (page.html#t=SECONDS) to copy and share.
    lines.forEach(function (line) {
      var link = document.createElement("a");
      link.className = "cue-link";
      link.href = "#t=" + line.getAttribute("data-start");
      link.textContent = "#";
      link.setAttribute("aria-label", box.getAttribute("data-link-label") + " " +
                        line.querySelector("time").textContent);
      line.appendChild(document.createTextNode(" "));
      line.appendChild(link);
    });
    input.addEventListener("input", function () {
      var words = fold(input.value).split(/\s+/).filter(Boolean);
      var shown = 0;
      lines.forEach(function (line, index) {
        var match = words.every(function (word) { return texts[index].indexOf(word) >= 0; });
        line.hidden = !match;
        if (match) shown += 1;
      });
      status.textContent = !words.length ? "" :
        shown ? shown + " / " + lines.length : status.getAttribute("data-none");
    });
    input.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") return;
      event.preventDefault();
      var first = lines.filter(function (line) { return !line.hidden; })[0];
      if (first) seek(audio, start(first));
    });
  }

  // "#t=75.5", "#t=1:15.5" or "#t=0:01:15.5" -> seconds; null for any other fragment.
  function hashTime() {
    var match = /^#t=(\d+(?::\d{1,2}){0,2}(?:\.\d+)?)$/.exec(window.location.hash);
    if (!match) return null;
    return match[1].split(":").reduce(function (total, part) {
      return total * 60 + parseFloat(part);
    }, 0);
  }

  function copyField(button, chosen) {
    var field = chosen || document.getElementById(button.getAttribute("data-copy"));
    if (!chosen) field.value = field.defaultValue;  // the plain link again after a timed one
    var status = button.parentNode.querySelector("[role=status]");
    var done = function () { status.textContent = status.getAttribute("data-done"); };
    field.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () {});
    } else if (document.execCommand("copy")) {  // plain http: the older API still works
      done();
    }
  }

  // "Copy link at 1:23": the page's link with the player's current second as #t=.
  function copyAtTime(button, audio) {
    var field = document.getElementById(button.getAttribute("data-copy-time"));
    var page = field.defaultValue.split("#")[0];
    field.value = page + "#t=" + Math.floor(audio.currentTime);
    copyField(button, field);
  }

  function showTime(button, audio) {
    var seconds = Math.floor(audio.currentTime);
    var minutes = Math.floor(seconds / 60);
    var text = (minutes >= 60 ? Math.floor(minutes / 60) + ":" + pad(minutes % 60) : minutes) +
      ":" + pad(seconds % 60);
    button.querySelector("time").textContent = text;
  }

  function pad(number) {
    return (number < 10 ? "0" : "") + number;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var audio = document.querySelector("audio[data-player]");
    var lists = Array.prototype.slice.call(document.querySelectorAll("[data-follow]"));
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { copyField(button); });
    });
    var via = shareCode();
    if (via) passShareCode(via);
    if (!audio) return;
    document.querySelectorAll("button[data-seek]").forEach(function (button) {
      button.disabled = false;
      button.addEventListener("click", function () {
        seek(audio, start(button.closest("[data-start]")));
      });
    });
    ["timeupdate", "seeked", "play"].forEach(function (name) {
      audio.addEventListener(name, function () { follow(audio, lists); });
    });
    document.querySelectorAll("button[data-copy-time]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { copyAtTime(button, audio); });
      ["timeupdate", "seeked"].forEach(function (name) {
        audio.addEventListener(name, function () { showTime(button, audio); });
      });
    });
    // A moment's link (a soundbite) followed again: the hash does not change, so no
    // hashchange comes; seek here (a first click is left to hashchange).
    document.querySelectorAll("a[data-time-link]").forEach(function (link) {
      link.addEventListener("click", function () {
        if (link.hash === window.location.hash) {
          var time = hashTime();
          if (time !== null) seek(audio, time);
        }
      });
    });
    var box = document.querySelector("[data-search]");
    if (box) searchTranscript(box, audio);
    var linked = hashTime();
    if (linked !== null) {
      // Opened at a moment: only the start position (preload="none": nothing is fetched
      // before the listener presses play), and the line shown.
      audio.currentTime = linked;
      follow(audio, lists);
      document.querySelectorAll("button[data-copy-time]").forEach(function (button) {
        showTime(button, audio);
      });
      var line = document.querySelector(".transcript [aria-current]");
      if (line) line.scrollIntoView({block: "center"});
    }
    window.addEventListener("hashchange", function () {
      var time = hashTime();
      if (time !== null) seek(audio, time);  // a cue's link followed: a press of play
    });
  });
})();
