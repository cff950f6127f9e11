/** The dashboard's default port, apart from the dashboard itself so the CLI's option text can name it without loading the server. */
export const DEFAULT_DASHBOARD_PORT = 8766;
