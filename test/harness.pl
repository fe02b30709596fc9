#!/usr/bin/perl
# Runs TAP test files (Perl .pl, or pgTAP .sql through psql) and prints one
# line "LABEL: N passed, N failed" so test/run can sum every suite.
#
#   harness.pl --label tap test/t/*.pl
#   harness.pl --label pgtap --dbname db --host dir --port 5432 --user u test/pgtap/*.sql
use strict;
use warnings;
use Getopt::Long;
use TAP::Harness;

my ($label, $dbname, $host, $port, $user, $verbose) = ('tap', undef, undef, undef, undef, 0);
GetOptions(
	'label=s'  => \$label,
	'dbname=s' => \$dbname,
	'host=s'   => \$host,
	'port=s'   => \$port,
	'user=s'   => \$user,
	'verbose'  => \$verbose,
) or die "usage: $0 [--label L] [--dbname D --host H --port P --user U] files...\n";

my @files = @ARGV;
if (!@files) {
	print "$label: 0 passed, 0 failed\n";
	exit 0;
}

# PGPRIV_TAP_JOBS files at once (test/run: 2 for the multi-node tests, whose
# clusters take their own free ports and directories).
my $jobs = ($ENV{PGPRIV_TAP_JOBS} // '1') =~ /^([1-9][0-9]?)$/ ? $1 : 1;
my %args = (verbosity => $verbose ? 1 : 0, color => 0, merge => 1, timer => 1, jobs => $jobs);

# Compiled test programs (test/crypto) print TAP themselves: run them as they are.
$args{exec} = sub {
	my ($harness, $file) = @_;
	return [$file] if -x $file && -f $file && $file !~ /\.(pl|sql)$/;
	return undef;
};
if (defined $dbname) {
	$args{sources} = {
		pgTAP => {
			dbname => $dbname,
			(defined $host ? (host => $host) : ()),
			(defined $port ? (port => $port) : ()),
			(defined $user ? (username => $user) : ()),
			suffix => '.sql',
		},
	};
}

my $aggregate = TAP::Harness->new(\%args)->runtests(@files);

# A file that died, exited non-zero or broke its plan without failing an
# assertion still counts as one failure: "no test failed" is not "it worked".
my $failed = scalar $aggregate->failed;
for my $file ($aggregate->descriptions) {
	for my $parser ($aggregate->parsers($file)) {
		$failed++ if $parser->has_problems && scalar($parser->failed) == 0;
	}
}
my $passed = scalar $aggregate->passed;
print "$label: $passed passed, $failed failed\n";
exit($failed ? 1 : 0);
