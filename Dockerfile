# The Postlane MTA node (mta-node/) as an OCI image. It dials the edge's lease hub and delivers
# from the host's owned IPs, so run it with host networking (the source IPs are the host's):
#
#   docker build -t postlane-node .
#   docker run -d --name postlane-node --network host \
#     -e POSTLANE_NODE_TOKEN=plnode_… -v postlane-node:/var/lib/postlane \
#     postlane-node --edge wss://edge.example.com --region eu --node-id eu-1 --ip 192.0.2.10=default
#
# The status port (9465: GET /metrics, /healthz, /readyz) is on all addresses for a scraper.
# `docker stop` sends SIGTERM: the node takes no new leases, drains what is in flight (30 s),
# journals and reports the results, and logs each step.
FROM node:20-slim

ENV NODE_ENV=production
WORKDIR /app

COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

# Only what the node runs: the lease protocol and policy it shares with the edge, and the node.
COPY tsconfig.json ./
COPY shared ./shared
COPY mta-node ./mta-node
COPY bin/postlane-node.mjs ./bin/postlane-node.mjs

RUN mkdir -p /var/lib/postlane && chown node:node /var/lib/postlane
USER node
VOLUME /var/lib/postlane

EXPOSE 9465
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s CMD ["node", "-e", "fetch('http://127.0.0.1:9465/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/postlane-node.mjs", "--status-port", "9465", "--status-host", "0.0.0.0", "--journal", "/var/lib/postlane/node.journal"]
