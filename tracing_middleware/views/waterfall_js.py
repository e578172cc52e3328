"""The waterfall page's script, inline in the page (no network, no build step).

It reads the trace from the page's ``<script type="application/json" id="trace-data">``
block and only ever puts span data into the page through ``textContent``, attributes set
with the DOM API and numeric styles, never through markup. Rows are virtual: only those in
view (plus a margin) are in the DOM, so 10,000 spans open as fast as 50.
"""

from __future__ import annotations

__all__ = ["JS"]

JS = r"""(function(){'use strict';
var D=JSON.parse(document.getElementById('trace-data').textContent);
var S=D.spans,N=S.length,T=Math.max(D.duration_ns,1),ROW=24,OVER=12;
var COL=D.colours;
var vp=document.getElementById('viewport'),sizer=document.getElementById('sizer'),
    body=document.getElementById('rows'),det=document.getElementById('details'),
    grid=document.getElementById('grid'),ruler=document.getElementById('ruler'),
    mm=document.getElementById('minimap'),mmArea=document.getElementById('minimap-area'),
    mmWin=document.getElementById('minimap-window'),app=document.getElementById('app');

/* subtree ends (rows are in depth-first order), child counts, errors as a prefix sum */
var end=new Int32Array(N),kids=new Int32Array(N),errs=new Int32Array(N+1),stack=[];
for(var i=0;i<N;i++){
  var s=S[i];errs[i+1]=errs[i]+(s.status==='error'?1:0);
  if(s.parent>=0)kids[s.parent]++;
  while(stack.length&&S[stack[stack.length-1]].depth>=s.depth)end[stack.pop()]=i;
  stack.push(i);
}
while(stack.length)end[stack.pop()]=N;
var collapsed=new Uint8Array(N),vis=[],pos=new Int32Array(N),sel=N?0:-1;

function rebuild(){
  vis=[];pos.fill(-1);
  for(var i=0;i<N;){pos[i]=vis.length;vis.push(i);i=collapsed[i]?end[i]:i+1;}
  sizer.style.height=(vis.length*ROW)+'px';
  vp.setAttribute('aria-rowcount',String(vis.length));
}
function pct(ns){return (Math.max(0,Math.min(ns,T))/T*100).toFixed(4)+'%';}
function trim(x,d){return String(+x.toFixed(d));}
function fmt(ns){
  var a=Math.abs(ns);
  if(a===0)return '0ms';
  if(a<1e3)return ns+'ns';
  if(a<1e6)return trim(ns/1e3,a<1e4?2:1)+'\u00b5s';
  if(a<1e9)return trim(ns/1e6,a<1e7?3:a<1e8?2:1)+'ms';
  return trim(ns/1e9,3)+'s';
}
function el(tag,cls,text){
  var e=document.createElement(tag);if(cls)e.className=cls;
  if(text!==undefined)e.textContent=text;return e;
}
function seg(cls,span,title){
  var e=el('div',cls);e.style.left=pct(span[0]);
  e.style.width=pct(Math.max(0,Math.min(span[1],T)-Math.max(0,span[0])));
  e.title=title+' '+fmt(span[1]-span[0]);return e;
}

/* the ruler: ticks at a round step, labels all in the step's unit */
function ticks(){
  var raw=T/5,mag=Math.pow(10,Math.floor(Math.log10(raw))),r=raw/mag,
      step=(r<=1.0001?1:r<=2.0001?2:r<=2.5001?2.5:r<=5.0001?5:10)*mag,
      unit=step<1e3?[1,'ns']:step<1e6?[1e3,'\u00b5s']:step<1e9?[1e6,'ms']:[1e9,'s'],out=[];
  for(var k=0;k*step<=T*(1+1e-9);k++)
    out.push([k*step,trim(k*step/unit[0],3)+unit[1]]);
  return out;
}
ticks().forEach(function(t){
  var label=el('span','tick',t[1]),x=t[0]/T*100;
  label.style.left=x.toFixed(4)+'%';label.dataset.ns=String(t[0]);
  if(x>88&&x>0)label.className='tick end';
  ruler.appendChild(label);
  var line=el('i');line.style.left=x.toFixed(4)+'%';grid.appendChild(line);
});

function hasKids(i){return kids[i]>0;}
function row(i,p){
  var s=S[i],r=el('div','row');
  r.setAttribute('role','row');r.setAttribute('aria-rowindex',String(p+1));
  r.setAttribute('aria-level',String(s.depth+1));
  r.setAttribute('aria-selected',i===sel?'true':'false');
  r.tabIndex=i===sel?0:-1;r.style.top=(p*ROW)+'px';
  r.dataset.index=String(i);r.dataset.spanId=s.span_id;
  if(i===sel)r.classList.add('sel');
  if(s.status==='error')r.classList.add('err');
  if(s.critical_ns!==null)r.classList.add('cp');
  if(s.orphan)r.classList.add('orphan');
  var name=el('div','name');name.setAttribute('role','gridcell');
  name.style.paddingLeft=(4+s.depth*14)+'px';
  if(hasKids(i)){
    r.setAttribute('aria-expanded',collapsed[i]?'false':'true');
    var b=el('button','tog',collapsed[i]?'\u25b8':'\u25be');b.tabIndex=-1;
    b.setAttribute('aria-label',(collapsed[i]?'expand ':'collapse ')+s.name);
    b.dataset.toggle=String(i);name.appendChild(b);
  }else name.appendChild(el('span','tog-sp'));
  var sw=el('span','sw');sw.style.background=COL[s.colour];name.appendChild(sw);
  name.appendChild(el('span','svc',s.service));
  name.appendChild(el('span','op',s.name));
  if(s.status==='error')name.appendChild(el('span','err-badge','\u26a0 error'));
  var hidden=collapsed[i]?errs[end[i]]-errs[i+1]:0;
  if(hidden>0){
    r.classList.add('hides-err');
    name.appendChild(el('span','hidden-err','\u26a0 '+hidden+' hidden error'+(hidden>1?'s':'')));
  }
  var cp=el('span','cp-mark','\u25c6');cp.title='on the critical path';name.appendChild(cp);
  if(s.critical_ns!==null)cp.appendChild(el('span','sr-only',' critical path'));
  name.appendChild(el('span','dur',fmt(s.duration_ns)));
  var lane=el('div','lane');lane.setAttribute('role','gridcell');
  if(s.queue_wait)lane.appendChild(seg('qwait',s.queue_wait,'queue wait'));
  var bar=el('div','bar');bar.style.left=pct(s.offset_ns);
  bar.style.width=pct(Math.max(0,s.duration_ns));bar.style.background=COL[s.colour];
  bar.title=s.service+': '+s.name+' '+fmt(s.duration_ns);lane.appendChild(bar);
  if(s.reply_wait)lane.appendChild(seg('rwait',s.reply_wait,'reply wait'));
  r.appendChild(name);r.appendChild(lane);return r;
}

var shown=[-1,-1];
function render(force){
  var top=vp.scrollTop,h=vp.clientHeight,
      first=Math.max(0,Math.floor(top/ROW)-OVER),
      last=Math.min(vis.length,Math.ceil((top+h)/ROW)+OVER);
  if(!force&&first===shown[0]&&last===shown[1]){minimapWindow();return;}
  var focused=body.contains(document.activeElement),frag=document.createDocumentFragment();
  for(var p=first;p<last;p++)frag.appendChild(row(vis[p],p));
  body.textContent='';body.appendChild(frag);shown=[first,last];
  if(focused){var f=current();(f||vp).focus({preventScroll:true});}
  minimapWindow();
}
function current(){return sel<0?null:body.querySelector('.row[data-index="'+sel+'"]');}
var pending=false;
vp.addEventListener('scroll',function(){
  if(pending)return;pending=true;
  requestAnimationFrame(function(){pending=false;render(false);});
});
window.addEventListener('resize',function(){align();drawMinimap();render(true);});

/* the minimap: every visible row as a line, time across, rows down */
function drawMinimap(){
  var w=mmArea.clientWidth,h=mmArea.clientHeight,dpr=window.devicePixelRatio||1;
  mm.width=Math.max(1,Math.round(w*dpr));mm.height=Math.max(1,Math.round(h*dpr));
  var c=mm.getContext('2d');if(!c)return;
  c.setTransform(dpr,0,0,dpr,0,0);c.clearRect(0,0,w,h);
  var n=vis.length,rh=Math.max(h/Math.max(n,1),0.5);
  for(var p=0;p<n;p++){
    var s=S[vis[p]];c.fillStyle=s.status==='error'?'#c5221f':COL[s.colour];
    c.fillRect(s.offset_ns/T*w,p/n*h,Math.max(s.duration_ns/T*w,1),rh);
  }
}
function minimapWindow(){
  var n=Math.max(vis.length,1),h=mmArea.clientHeight,
      first=vp.scrollTop/ROW,count=vp.clientHeight/ROW;
  mmWin.style.top=(Math.min(first/n,1)*h).toFixed(2)+'px';
  mmWin.style.height=(Math.min(count/n,1)*h).toFixed(2)+'px';
}
function minimapTo(ev){
  var box=mmArea.getBoundingClientRect(),y=(ev.clientY-box.top)/Math.max(box.height,1);
  vp.scrollTop=y*vis.length*ROW-vp.clientHeight/2;
}
var dragging=false;
mmArea.addEventListener('pointerdown',function(ev){
  dragging=true;if(mmArea.setPointerCapture)mmArea.setPointerCapture(ev.pointerId);
  minimapTo(ev);ev.preventDefault();
});
mmArea.addEventListener('pointermove',function(ev){if(dragging)minimapTo(ev);});
mmArea.addEventListener('pointerup',function(){dragging=false;});
mmArea.addEventListener('pointercancel',function(){dragging=false;});

/* the header strips line up with the rows, whose scrollbar takes width */
function align(){
  var gap=(vp.offsetWidth-vp.clientWidth)+'px';
  document.querySelectorAll('.strip').forEach(function(e){e.style.paddingRight=gap;});
}

/* the details of the selected span */
function table(pairs){
  var t=el('table');
  pairs.forEach(function(kv){
    var tr=el('tr');tr.appendChild(el('th','',kv[0]));
    var v=kv[1],td=el('td','',typeof v==='string'?v:JSON.stringify(v));
    if(kv[2])td.className=kv[2];tr.appendChild(td);t.appendChild(tr);
  });
  return t;
}
function sortedPairs(o){
  return Object.keys(o||{}).sort().map(function(k){return [k,o[k]];});
}
function details(i){
  det.textContent='';
  if(i<0){det.appendChild(el('p','','No span selected.'));return;}
  var s=S[i],parent=s.parent>=0?S[s.parent]:null;
  det.appendChild(el('h3','',s.service+': '+s.name));
  var facts=[['Service',s.service],['Kind',s.kind],['Duration',fmt(s.duration_ns)],
    ['Start offset',fmt(s.offset_ns)],
    ['Status',s.status+(s.status_message?': '+s.status_message:''),
     s.status==='error'?'status-error':''],
    ['Span ID',s.span_id],
    ['Parent',parent?parent.service+': '+parent.name+' ('+s.parent_span_id+')':
     (s.parent_span_id?s.parent_span_id+' (not in this trace)':'none (root)')]];
  if(s.critical_ns!==null)facts.push(['Critical path',fmt(s.critical_ns)+' of '+
    fmt(D.critical_path.duration_ns)]);
  if(s.queue_wait)facts.push(['Queue wait',fmt(s.queue_wait[1]-s.queue_wait[0])]);
  if(s.reply_wait)facts.push(['Reply wait',fmt(s.reply_wait[1]-s.reply_wait[0])]);
  det.appendChild(table(facts));
  var exc=(s.events||[]).filter(function(e){return e.name==='exception';});
  exc.forEach(function(e){
    var a=e.attributes||{},box=el('div','exception');
    box.appendChild(el('strong','',(a['exception.type']||'exception')+
      (a['exception.message']!==undefined?': '+a['exception.message']:'')));
    if(a['exception.stacktrace'])box.appendChild(el('pre','',String(a['exception.stacktrace'])));
    det.appendChild(box);
  });
  function section(title,pairs){
    if(!pairs.length)return;det.appendChild(el('h4','',title));det.appendChild(table(pairs));
  }
  section('Attributes',sortedPairs(s.attributes));
  var start=s.start_time_unix_nano;
  section('Events',(s.events||[]).map(function(e){
    var attrs=sortedPairs(e.attributes).map(function(kv){
      return kv[0]+'='+(typeof kv[1]==='string'?kv[1]:JSON.stringify(kv[1]));});
    return [fmt(e.time_unix_nano-start)+'  '+e.name,attrs.join('\n')];
  }));
  section('Links',(s.links||[]).map(function(l){
    return [(l.trace_id||'')+' '+(l.span_id||''),l.attributes||{}];}));
  section('Resource',sortedPairs(s.resource));
}

function select(i,focus){
  if(i<0||i>=N)return;
  var old=current();
  if(old){old.classList.remove('sel');old.tabIndex=-1;old.setAttribute('aria-selected','false');}
  sel=i;var p=pos[i];
  if(p*ROW<vp.scrollTop)vp.scrollTop=p*ROW;
  else if((p+1)*ROW>vp.scrollTop+vp.clientHeight)vp.scrollTop=(p+1)*ROW-vp.clientHeight;
  render(true);details(i);
  var r=current();if(r&&focus)r.focus({preventScroll:true});
}
function toggle(i,want){
  if(!hasKids(i))return;
  var v=want===undefined?!collapsed[i]:want;
  if(!!collapsed[i]===v)return;
  collapsed[i]=v?1:0;
  if(sel>i&&sel<end[i]&&v)sel=i;
  rebuild();drawMinimap();select(sel,body.contains(document.activeElement));
}
function setAll(v){
  for(var i=0;i<N;i++)collapsed[i]=v&&hasKids(i)?1:0;
  if(sel>=0&&v)while(S[sel].parent>=0)sel=S[sel].parent;
  rebuild();drawMinimap();select(sel,body.contains(document.activeElement));
}

body.addEventListener('click',function(ev){
  var t=ev.target.closest('[data-toggle]');
  if(t){toggle(+t.dataset.toggle);return;}
  var r=ev.target.closest('.row');if(r)select(+r.dataset.index,true);
});
vp.addEventListener('keydown',function(ev){
  if(sel<0||ev.altKey||ev.ctrlKey||ev.metaKey)return;
  var p=pos[sel],page=Math.max(1,Math.floor(vp.clientHeight/ROW)-1),k=ev.key,to=-1;
  if(k==='ArrowDown'||k==='j')to=Math.min(p+1,vis.length-1);
  else if(k==='ArrowUp'||k==='k')to=Math.max(p-1,0);
  else if(k==='PageDown')to=Math.min(p+page,vis.length-1);
  else if(k==='PageUp')to=Math.max(p-page,0);
  else if(k==='Home')to=0;
  else if(k==='End')to=vis.length-1;
  else if(k==='ArrowRight'||k==='l'){
    if(hasKids(sel)&&collapsed[sel])toggle(sel,false);
    else if(hasKids(sel))to=p+1;
  }else if(k==='ArrowLeft'||k==='h'){
    if(hasKids(sel)&&!collapsed[sel])toggle(sel,true);
    else if(S[sel].parent>=0)to=pos[S[sel].parent];
  }else if(k==='Enter'||k===' ')toggle(sel);
  else return;
  ev.preventDefault();
  if(to>=0)select(vis[to],true);
});

document.getElementById('collapse-all').addEventListener('click',function(){setAll(true);});
document.getElementById('expand-all').addEventListener('click',function(){setAll(false);});
var cpBox=document.getElementById('show-cp');
cpBox.addEventListener('change',function(){app.classList.toggle('show-cp',cpBox.checked);});
app.classList.toggle('show-cp',cpBox.checked);

rebuild();details(sel);align();drawMinimap();render(true);
if(window.performance&&performance.mark)performance.mark('waterfall-ready');
})();"""
