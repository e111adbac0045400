// PostGraphile 5 on pubgate_bench, production-style: the Amber preset with simplified
// inflection (as v4's pg-simplify-inflector), no mutations, no GraphiQL (Ruru), no
// websockets or LISTEN/NOTIFY, no explain. The relations come from the same smart tags file as
// v4's (pubgate's tables have no foreign-key constraints).
// Env: PG_URL, POOL (connections of this process), HOST, PORT.
import { fileURLToPath } from 'node:url';
import { PgSimplifyInflectionPreset } from '@graphile/simplify-inflection';
import { makePgService } from 'postgraphile/adaptors/pg';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';
import { pgSmartTagsFromFile } from 'postgraphile/utils';

const tagsFile = fileURLToPath(new URL('../postgraphile/postgraphile.tags.json5', import.meta.url));

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset, PgSimplifyInflectionPreset],
  plugins: [pgSmartTagsFromFile(tagsFile, 'PubgateTagsFilePlugin')],
  // No mutations (as v4's --disable-default-mutations).
  schema: { defaultBehavior: '-insert -update -delete' },
  pgServices: [
    makePgService({
      connectionString: process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/pubgate_bench',
      schemas: ['public'],
      poolConfig: { max: Number(process.env.POOL ?? 16) },
      pubsub: false,
    }),
  ],
  grafserv: {
    host: process.env.HOST ?? '127.0.0.1',
    port: Number(process.env.PORT ?? 5678),
    graphqlPath: '/graphql',
    graphiql: false,
    graphiqlOnGraphQLGET: false,
    websockets: false,
    watch: false,
  },
  grafast: { explain: false },
};
export default preset;
