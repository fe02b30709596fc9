#!/usr/bin/perl
# link_relay.pl LISTEN_PORT TARGET_PORT [MBIT_PER_S [DELAY_MS]]
#
# An emulated wide-area link for the benchmarks: listens on
# 127.0.0.1:LISTEN_PORT and forwards every connection to
# 127.0.0.1:TARGET_PORT, each direction limited to MBIT_PER_S (default 100)
# and delayed by DELAY_MS one way (default 10, so a round trip costs twice
# that).  A chunk read at time t of n bytes leaves at
#     max(t + delay, the time the direction's line is free) + n·8 / rate
# which is what a serialising line of that rate behind a fixed propagation
# delay does (no loss, no jitter; queueing is unbounded).  Prints the bytes
# relayed each way when it gets SIGTERM.  Loopback only; runs until killed.
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time);

my ($listen_port, $target_port, $mbit, $delay_ms) = @ARGV;
die "usage: link_relay.pl LISTEN_PORT TARGET_PORT [MBIT_PER_S [DELAY_MS]]\n" unless $target_port;
my $rate = ($mbit // 100) * 1e6 / 8;    # bytes per second
my $delay = ($delay_ms // 10) / 1000;
my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $listen_port,
	Listen => 16, ReuseAddr => 1, Proto => 'tcp') or die "listen: $!";
$l->blocking(0);
my $sel = IO::Select->new($l);
my %peer;       # socket -> the socket it forwards to
my %queue;      # destination socket -> [ [due time, data], ... ]
my %free_at;    # destination socket -> when its line is free
my %closing;    # destination socket -> its source closed: close once drained
my ($up, $down) = (0, 0);
my %upstream;   # sockets connected to the target
$SIG{TERM} = sub { print "relayed $up bytes up, $down bytes down\n"; exit 0 };

sub drop
{
	my ($s) = @_;
	$sel->remove($s);
	delete $queue{$s};
	delete $free_at{$s};
	delete $closing{$s};
	delete $upstream{$s};
	delete $peer{$s};
	close $s;
}

for (;;) {
	my $now = time;
	# Deliver what is due; find the next due time.
	my $next;
	for my $d (keys %queue) {
		my ($dst) = grep { "$_" eq $d } values %peer;
		next unless $dst;
		my $q = $queue{$d};
		while (@$q && $q->[0][0] <= $now) {
			my $data = $q->[0][1];
			my $w = syswrite($dst, $data);
			if (!defined $w) {
				last if $!{EAGAIN};
				@$q = ();
				last;
			}
			if ($w < length $data) { substr($q->[0][1], 0, $w) = ''; last; }
			shift @$q;
		}
		if (!@$q && $closing{$d}) {
			my $src = $peer{$dst};
			drop($dst);
			drop($src) if $src;
			next;
		}
		$next = $q->[0][0] if @$q && (!defined $next || $q->[0][0] < $next);
	}
	my $timeout = defined $next ? ($next - time > 0 ? $next - time : 0) : 1;
	for my $s ($sel->can_read($timeout)) {
		if ($s == $l) {
			my $c = $l->accept or next;
			my $u = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $target_port, Proto => 'tcp');
			if (!$u) { close $c; next; }
			$_->blocking(0) for ($c, $u);
			$peer{$c} = $u;
			$peer{$u} = $c;
			$upstream{$u} = 1;
			$queue{$_} = [] for ($c, $u);
			$free_at{$_} = 0 for ($c, $u);
			$sel->add($c, $u);
			next;
		}
		my $dst = $peer{$s} or next;
		my $n = sysread($s, my $buf, 65536);
		next if !defined $n && $!{EAGAIN};
		if (!$n) {
			$sel->remove($s);
			$closing{$dst} = 1;
			next;
		}
		if ($upstream{$dst}) { $up += $n } else { $down += $n }
		my $t = time;
		my $start = $t + $delay > $free_at{$dst} ? $t + $delay : $free_at{$dst};
		$free_at{$dst} = $start + $n / $rate;
		push @{ $queue{$dst} }, [ $free_at{$dst}, $buf ];
	}
}
