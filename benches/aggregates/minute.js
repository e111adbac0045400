// A `truncated-to-minute` grouping derivative for @graphile/pg-aggregates 0.1.x, which has only
// `truncated-to-hour` and `truncated-to-day` built in: the package README's own recipe
// ("Defining your own grouping derivatives"), so the last hour can be bucketed per minute as
// pubgate's STATS document does. Adds CREATED_AT_TRUNCATED_TO_MINUTE (and the like for every
// timestamp column) next to the built-in ones.
const TIMESTAMP_OID = '1114';
const TIMESTAMPTZ_OID = '1184';

module.exports = function TruncatedToMinutePlugin(builder) {
  builder.hook('build', (build) => {
    const { pgSql: sql } = build;
    build.pgAggregateGroupBySpecs = [
      ...build.pgAggregateGroupBySpecs,
      {
        id: 'truncated-to-minute',
        isSuitableType: (pgType) => pgType.id === TIMESTAMP_OID || pgType.id === TIMESTAMPTZ_OID,
        sqlWrap: (sqlFrag) => sql.fragment`date_trunc('minute', ${sqlFrag})`,
      },
    ];
    return build;
  });
};
