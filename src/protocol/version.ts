/** The tool's version, written into every report and provenance record (kept equal to package.json by a test). */
export const toolVersion = '0.1.0';
