// /docs: Swagger UI's start-up, as a file so that the page runs under the strict
// Content-Security-Policy (api/http/security.py) like every other page. The options are
// those FastAPI's get_swagger_ui_html writes inline.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
