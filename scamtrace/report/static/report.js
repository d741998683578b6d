(function(){
var q=document.getElementById('filter'),timer=null;
function run(){var s=q.value.toLowerCase();
document.querySelectorAll('table.ft>tbody>tr,table.ent>tbody').forEach(function(r){
r.hidden=s!==''&&r.textContent.toLowerCase().indexOf(s)<0;});}
if(q){q.addEventListener('input',function(){clearTimeout(timer);timer=setTimeout(run,200);});}
function all(open){document.querySelectorAll('details').forEach(function(d){d.open=open;});}
var o=document.getElementById('open-all'),c=document.getElementById('close-all');
if(o){o.addEventListener('click',function(){all(true);});}
if(c){c.addEventListener('click',function(){all(false);});}
var p=document.getElementById('print-evidence'),closed=[];
window.addEventListener('beforeprint',function(){closed=[];if(p&&!p.checked){return;}
document.querySelectorAll('details:not([open])').forEach(function(d){closed.push(d);d.open=true;});});
window.addEventListener('afterprint',function(){closed.forEach(function(d){d.open=false;});
closed=[];});
})();
