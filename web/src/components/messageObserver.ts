// How a message tells its list that it is on the page (the list watches which partner messages
// are on screen, for read receipts): provided by MessageList, injected by MessageItem.
import type { InjectionKey } from 'vue';

export interface MessageObserver {
  track(element: Element, msgId: number): void;
  untrack(element: Element, msgId: number): void;
}

export const messageObserverKey: InjectionKey<MessageObserver> = Symbol('pairchat.messageObserver');
