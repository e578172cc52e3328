"""The waterfall page's stylesheet, inline in the page (no network, works under a CSP
that allows only inline styles)."""

from __future__ import annotations

__all__ = ["CSS"]

#: ``.row``'s height (24px) is the script's ``ROW`` too: virtual rows sit at index * 24.
CSS = """*{box-sizing:border-box}
html,body{height:100%;margin:0}
body{font:13px system-ui,sans-serif;color:#222;display:flex;flex-direction:column}
header{padding:.5em .75em;border-bottom:1px solid #ddd}
header h2{font-size:15px;margin:0 0 .25em}
.summary{color:#555}.summary b{color:#222}
.controls{display:flex;flex-wrap:wrap;gap:.5em 1em;align-items:center;margin-top:.35em}
.controls button{font:inherit;padding:1px 8px}
.legend .item{display:inline-block;margin-right:1em;white-space:nowrap}
.sw{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px;
flex:none}
.strip{display:flex;border-bottom:1px solid #ddd}
.strip .label{width:var(--name-w);flex:none;padding:2px 6px;color:#555;font-size:12px}
.strip .area{position:relative;flex:1;min-width:0}
#minimap-area{height:48px;background:#fafafa;cursor:pointer;touch-action:none}
#minimap{position:absolute;inset:0;width:100%;height:100%}
#minimap-window{position:absolute;left:0;right:0;min-height:3px;
background:rgba(26,115,232,.15);border:1px solid #1a73e8;pointer-events:none}
#ruler{height:22px}
.tick{position:absolute;top:0;height:100%;border-left:1px solid #bbb;padding-left:3px;
font-size:11px;line-height:22px;color:#444;white-space:nowrap}
.tick.end{border-left:0;border-right:1px solid #bbb;padding:0 3px 0 0;
transform:translateX(-100%)}
#viewport{position:relative;flex:1;overflow-x:hidden;overflow-y:auto;min-height:120px;
scrollbar-gutter:stable}
#viewport:focus-visible{outline:2px solid #1a73e8;outline-offset:-2px}
#sizer{position:relative;width:100%}
#grid{position:absolute;top:0;bottom:0;right:0;left:var(--name-w);pointer-events:none}
#grid i{position:absolute;top:0;bottom:0;border-left:1px solid #eee}
.row{position:absolute;left:0;right:0;height:24px;display:flex;align-items:center;
cursor:pointer;border-bottom:1px solid #f0f0f0}
.row:hover{background:#f3f6fb}.row.sel{background:#e3ecfa}
.row:focus{outline:2px solid #1a73e8;outline-offset:-2px}
.name{width:var(--name-w);flex:none;display:flex;align-items:center;gap:4px;
overflow:hidden;white-space:nowrap;padding-right:6px;height:100%;
border-right:1px solid #e4e4e4}
.tog{flex:none;width:18px;height:18px;padding:0;border:0;background:none;
font:12px monospace;cursor:pointer;color:#333}
.tog-sp{flex:none;width:18px}
.svc{font-weight:600;flex:none}
.op{overflow:hidden;text-overflow:ellipsis;min-width:2em}
.dur{color:#777;font-size:11px;flex:none}
.orphan .op{font-style:italic}
.err-badge,.hidden-err{flex:none;font-size:11px;font-weight:700;border-radius:3px;
padding:0 4px;line-height:16px}
.err-badge{color:#fff;background:#c5221f}
.hidden-err{color:#c5221f;border:1px solid #c5221f;background:#fff}
.err .op{color:#c5221f}
.lane{position:relative;flex:1;min-width:0;height:100%}
.bar{position:absolute;top:5px;height:14px;border-radius:2px;min-width:1px}
.err .bar{box-shadow:inset 0 0 0 2px #c5221f}
.qwait,.rwait{position:absolute;top:7px;height:10px;min-width:1px;
border:1px solid #888;background:repeating-linear-gradient(135deg,#ddd 0 3px,#fff 3px 6px)}
.rwait{background:repeating-linear-gradient(45deg,#cfe0f5 0 3px,#fff 3px 6px)}
.cp-mark{display:none;flex:none;color:#111;font-size:10px}
.show-cp .row.cp .cp-mark{display:inline}
.show-cp .row.cp .bar{outline:2px solid #111;outline-offset:0}
.show-cp .row.cp .bar::after{content:"";position:absolute;left:0;right:0;bottom:-4px;
height:2px;background:#111}
#details{flex:none;max-height:35vh;overflow:auto;border-top:2px solid #ccc;
padding:.5em .75em;background:#fafafa}
#details h3{margin:.1em 0 .4em;font-size:14px}
#details table{border-collapse:collapse;margin:.25em 0 .6em}
#details th,#details td{text-align:left;vertical-align:top;padding:1px 10px 1px 0;
font-size:12px}
#details th{color:#555;font-weight:600;white-space:nowrap}
#details td{font-family:ui-monospace,monospace;word-break:break-all;white-space:pre-wrap}
#details h4{margin:.5em 0 .2em;font-size:12px;text-transform:uppercase;color:#555}
.exception{border-left:4px solid #c5221f;background:#fdecea;padding:.3em .6em;
margin:.3em 0}
.exception pre{margin:.3em 0 0;white-space:pre-wrap;font-size:12px}
.status-error{color:#c5221f;font-weight:700}
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
"""
