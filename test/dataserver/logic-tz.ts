// Imported first by the dataserver logic/XML tests: the reference works in local time and the
// spec's acceptance cases are written for TZ=UTC (spec §0 conventions).
process.env['TZ'] = 'UTC';
