<?php
// Net_Sieve (Debian's php-net-sieve, the library of Roundcube's managesieve plugin) against
// the server: STARTTLS, login, install + activate, list, get, delete refused while active,
// deactivate, delete. Prints "ok: ..." / "FAIL: ..." lines.
require_once 'Net/Sieve.php';
[$_, $port, $user, $pass] = $argv;
$fail = 0;
function check($cond, $what, $detail = '') {
  global $fail;
  if ($cond) { echo "ok: Net_Sieve $what\n"; } else { $fail++; echo "FAIL: Net_Sieve $what $detail\n"; }
}
function err($r) { return is_a($r, 'PEAR_Error') ? $r->getMessage() : ''; }
$sieve = new Net_Sieve();
$opts = ['ssl' => ['verify_peer' => false, 'verify_peer_name' => false, 'allow_self_signed' => true]];
$r = $sieve->connect('127.0.0.1', (int)$port, $opts, true);
check($r === true, 'connect with STARTTLS', err($r));
$r = $sieve->login($user, $pass, 'PLAIN');
check($r === true, 'login', err($r));
$ext = $sieve->getExtensions();
// (Net_Sieve upper-cases the SIEVE capability's words.)
check(is_array($ext) && in_array('FILEINTO', array_map('strtoupper', $ext)), 'SIEVE extensions include fileinto', json_encode($ext));
$script = "require [\"fileinto\"];\r\n# rule: [roundcube]\r\nif header :contains \"subject\" \"[rc]\" {\r\n  fileinto \"Lists\";\r\n}\r\n";
$r = $sieve->haveSpace('roundcube', strlen($script));
check($r === true, 'haveSpace', err($r));
$r = $sieve->installScript('roundcube', $script, true);
check($r === true, 'installScript (active)', err($r));
$r = $sieve->listScripts($active);
check(is_array($r) && in_array('roundcube', $r) && $active === 'roundcube', 'listScripts shows it active', json_encode([$r, $active]));
$r = $sieve->getScript('roundcube');
// (Net_Sieve hands back the literal with the line end that follows it, as it does with
// Dovecot's identical answer; trailing line ends are not compared.)
check(is_string($r) && rtrim($r) === rtrim($script), 'getScript gives it back', err($r) . json_encode($r));
$r = $sieve->installScript('broken', "fileinto;\r\n");
check(is_a($r, 'PEAR_Error') && strpos($r->getMessage(), 'line 1, column') !== false, 'installScript of a broken script refused with line/column', err($r));
$r = $sieve->removeScript('roundcube');
check(is_a($r, 'PEAR_Error'), 'removeScript of the active script refused', err($r));
$r = $sieve->setActive('');
check($r === true, 'setActive("") deactivates', err($r));
$r = $sieve->removeScript('roundcube');
check($r === true, 'removeScript', err($r));
$r = $sieve->listScripts();
check(is_array($r) && !in_array('roundcube', $r), 'listScripts after removal', json_encode($r));
$sieve->disconnect();
exit($fail ? 1 : 0);
