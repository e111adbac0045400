// GraphiQL against this gateway: queries over HTTP to the URL the page was served at,
// subscriptions over graphql-transport-ws at its `/ws` (through the graphql-ws client bundled in
// GraphiQL). Both carry what the Headers editor holds (HTTP as request headers, the WebSocket in
// its `connection_init` payload), which is how an `Authorization: Bearer …` token reaches the
// gateway when one is required.
(() => {
  'use strict';

  const endpoint = new URL(location.pathname, location.href);
  const socket = new URL(`${endpoint.pathname.replace(/\/+$/, '')}/ws`, endpoint);
  socket.protocol = endpoint.protocol === 'https:' ? 'wss:' : 'ws:';

  const fetcher = GraphiQL.createFetcher({ url: endpoint.href, subscriptionUrl: socket.href });

  const defaultQuery = `# When this gateway requires an API token,
# add it under Headers below:
#   {"Authorization": "Bearer <token>"}

{
  publications(first: 5) {
    totalCount
    nodes {
      id
      createdAt
    }
  }
}
`;

  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, {
      fetcher,
      defaultQuery,
      isHeadersEditorEnabled: true,
      // A token typed into the Headers editor stays in this page, not in localStorage.
      shouldPersistHeaders: false,
    }),
  );
})();
