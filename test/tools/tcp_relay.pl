#!/usr/bin/perl
# tcp_relay.pl LISTEN_PORT TARGET_PORT CAPTURE_FILE
#
# A recording TCP relay for the wire-capture tests: listens on
# 127.0.0.1:LISTEN_PORT, forwards every connection to 127.0.0.1:TARGET_PORT,
# and appends every byte of both directions to CAPTURE_FILE.  Loopback only;
# runs until it is killed.
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
my ($listen_port, $target_port, $capfile) = @ARGV;
my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $listen_port,
	Listen => 16, ReuseAddr => 1, Proto => 'tcp') or die "listen: $!";
open my $cap, '>>', $capfile or die $!;
binmode $cap;
$cap->autoflush(1);
my $sel = IO::Select->new($l);
my %other;
for (;;) {
	for my $s ($sel->can_read) {
		if ($s == $l) {
			my $c = $l->accept or next;
			my $u = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $target_port, Proto => 'tcp');
			if (!$u) { close $c; next; }
			$other{$c} = $u;
			$other{$u} = $c;
			$sel->add($c, $u);
			next;
		}
		my $o = $other{$s} or next;
		my $n = sysread($s, my $buf, 65536);
		if (!$n) {
			$sel->remove($s, $o);
			delete @other{ $s, $o };
			close $s;
			close $o;
			next;
		}
		print $cap $buf;
		my $off = 0;
		while ($off < $n) {
			my $w = syswrite($o, $buf, $n - $off, $off);
			last unless defined $w;
			$off += $w;
		}
	}
}
