import 'reflect-metadata';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { DynamicModule, Provider, Type } from '@nestjs/common';
import { MODULE_METADATA } from '@nestjs/common/constants';
import { NestFactory } from '@nestjs/core';
import { GraphQLSchemaBuilderModule, GraphQLSchemaFactory } from '@nestjs/graphql';
import { MercuriusDriverConfig } from '@nestjs/mercurius';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { AppModule } from './app.module';
import { parseConfig } from './config/env';
import { graphqlOptions } from './graphql.options';

const HEADER = `# The GraphQL schema that tokenpool serves on /graphql, written by the build (scripts/build.js)
# from the code. Do not edit: change the code and rebuild. test/unit/schema-file.spec.ts fails
# when this file is not the schema the code builds.

`;

type ModuleEntry = Type | DynamicModule;

/**
 * The schema the API serves, built the way Nest builds it at boot but without starting
 * anything (no database, no Redis): the same provider classes, found by walking the API
 * module's imports as Nest does, and the same schema options, read from graphqlOptions.
 */
export async function printServedSchema(): Promise<string> {
  // Only the schema options are read here; the services feed hooks that never run.
  const options = graphqlOptions(parseConfig({}), null as never, null as never, null as never) as MercuriusDriverConfig;
  const context = await NestFactory.createApplicationContext(GraphQLSchemaBuilderModule, { logger: false });
  try {
    const classes = providerClasses(AppModule);
    const schema = await context.get(GraphQLSchemaFactory).create(classes, classes, { ...options.buildSchemaOptions });
    return `${HEADER}${printSchema(options.sortSchema ? lexicographicSortSchema(schema) : schema)}\n`;
  } finally {
    await context.close();
  }
}

/** Every class a module of the graph provides; the schema factory keeps the resolvers and scalars among them. */
function providerClasses(root: Type): Type[] {
  const seen = new Set<ModuleEntry>();
  const classes = new Set<Type>();
  const visit = (entry: ModuleEntry) => {
    if (seen.has(entry)) return;
    seen.add(entry);
    const moduleClass = 'module' in entry ? entry.module : entry;
    const dynamic = 'module' in entry ? entry : undefined;
    const providers: Provider[] = [...(Reflect.getMetadata(MODULE_METADATA.PROVIDERS, moduleClass) ?? []), ...(dynamic?.providers ?? [])];
    for (const provider of providers) {
      const found = typeof provider === 'function' ? provider : 'useClass' in provider ? provider.useClass : undefined;
      if (found) classes.add(found);
    }
    const imports: unknown[] = [...(Reflect.getMetadata(MODULE_METADATA.IMPORTS, moduleClass) ?? []), ...(dynamic?.imports ?? [])];
    for (const imported of imports) {
      if (typeof imported === 'function' || (typeof imported === 'object' && imported !== null && 'module' in imported)) visit(imported as ModuleEntry);
    }
  };
  visit(root);
  return [...classes];
}

/** Writes the schema to `path` unless the file already holds it, through a rename so a reader never sees half a file. */
export async function writeServedSchema(path: string): Promise<boolean> {
  const sdl = await printServedSchema();
  if (existsSync(path) && readFileSync(path, 'utf8') === sdl) return false;
  writeFileSync(`${path}.${process.pid}`, sdl);
  renameSync(`${path}.${process.pid}`, path);
  return true;
}
